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

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.browser_support import open_page  # noqa: E402,F401  (the tests import it from here)
from tests.web.tiny_artifact import build_tiny_artifact  # noqa: E402


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
