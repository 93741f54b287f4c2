"""Fixtures for the browser tests: a tiny artifact, its bundle, servers, and ONE shared Chromium.

Chromium is Debian's /usr/bin/chromium driven by Playwright (never `playwright install`); each
test gets a fresh browser context (its own profile state) from the one browser of the session.
"""

from __future__ import annotations

import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.browser_support import PageLog  # noqa: E402
from tests.web.tiny_artifact import build_tiny_artifact  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOAD_TIMEOUT_MS = 60_000  # generous: CI has 2 slow cores; never a timing assertion


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("tiny") / "build")


def build_bundle(artifact: Path, out: Path, precision: str) -> Path:
    from edgepack.web.bundle import build_wasm_bundle

    return build_wasm_bundle(artifact, out, precision).directory


@pytest.fixture(scope="session")
def tiny_bundle(tiny_artifact, tmp_path_factory) -> Path:
    return build_bundle(tiny_artifact, tmp_path_factory.mktemp("dist") / "tiny-wasm", "fp32")


def edgepack_server(directory: Path, isolate: bool = True):
    """edgepack.web.serve in a thread; a context manager yielding the base URL."""
    from edgepack.web.serve import running

    return running(directory, isolate=isolate)


@contextmanager
def plain_server(directory: Path):
    """`python -m http.server`: a plain static server without COOP/COEP/CSP or compression."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"port (\d+)", line)
        assert match, f"http.server did not report its port: {line!r}"
        yield f"http://127.0.0.1:{match.group(1)}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def served_bundle(tiny_bundle):
    with edgepack_server(tiny_bundle) as url:
        yield url


@contextmanager
def open_page(browser, url: str, viewport=None):
    """A fresh context + page on ``url``, with a PageLog; waits until the demo left 'loading'."""
    context = browser.new_context(viewport=viewport or {"width": 1000, "height": 800})
    page = context.new_page()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    log = PageLog(origin=origin)
    page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: log.failed.append(f"{r.url}: {r.failure}"))

    def on_request(request):
        if not request.url.startswith(origin + "/"):
            log.off_origin.append(request.url)

    def on_response(response):
        log.responses[response.url] = response.headers
        if response.status >= 400:
            log.bad_status.append(f"{response.status} {response.url}")

    page.on("request", on_request)
    page.on("response", on_response)
    try:
        page.goto(url)
        page.wait_for_selector("body:not([data-state=loading])", timeout=LOAD_TIMEOUT_MS)
        yield page, log
    finally:
        context.close()


def classify_in_page(page, texts: list[str]) -> list[dict]:
    """Run the page's own pipeline on texts; returns [{ids, probabilities, label}] (plain JSON)."""
    # A function (not a string) so Playwright calls it without eval(): the page's CSP forbids eval.
    return page.evaluate(
        """async (texts) => {
            const out = [];
            for (const t of texts) {
                const r = await globalThis.edgepackDemo.pipeline.classify(t);
                out.push({ids: Array.from(r.ids, Number), probabilities: r.scores.map((s) => s.probability), label: r.label});
            }
            return out;
        }""",
        texts,
    )
