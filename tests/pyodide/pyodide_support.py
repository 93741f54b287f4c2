"""Helpers for the Pyodide browser tests (a uniquely named module: every tests/ folder has a conftest)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from tests.browser_support import PageLog

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO / "tests" / "tokenizer" / "golden"
CORPUS = REPO / "tests" / "tokenizer" / "corpus.jsonl"
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
LOAD_TIMEOUT_MS = 120_000  # generous: CI has 2 slow cores; never a timing assertion
# Test-only files copied into the served bundle (same origin), never part of a real bundle.
TEST_FILES = "_test"


def edgepack_server(directory: Path):
    from edgepack.web.serve import running

    return running(directory)


@contextmanager
def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    log = PageLog(origin=origin)
    page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: log.failed.append(f"{r.url}: {r.failure}"))

    def on_request(request):
        log.requests.append(request.url)
        if not request.url.startswith(origin + "/"):
            log.off_origin.append(request.url)

    page.on("request", on_request)
    page.on("response", lambda r: log.bad_status.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(url)
        page.wait_for_selector("body:not([data-state=loading])", timeout=LOAD_TIMEOUT_MS)
        yield page, log
    finally:
        context.close()


def predict_in_page(page, texts: list[str]) -> list[dict]:
    # A function (not a string) so Playwright calls it without eval(): the page's CSP forbids eval.
    return page.evaluate("async (texts) => (await globalThis.edgepackPyodide.predict(texts)).results", texts)


def run_python(page, code: str):
    """Run ``code`` in the page's Pyodide; its last expression must be a JSON string, returned parsed."""
    return page.evaluate(
        "async (code) => JSON.parse(await globalThis.edgepackPyodide.pyodide.runPythonAsync(code))", code)

