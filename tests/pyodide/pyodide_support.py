"""Helpers for the Pyodide browser tests (a uniquely named module: every tests/ folder has a conftest)."""

from __future__ import annotations

from pathlib import Path

from tests.browser_support import open_page as chromium_page

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO / "tests" / "tokenizer" / "golden"
CORPUS = REPO / "tests" / "tokenizer" / "corpus.jsonl"
LOAD_TIMEOUT_MS = 120_000  # generous: CI has 2 slow cores; never a timing assertion
# Test-only files copied into the served bundle (same origin), never part of a real bundle.
TEST_FILES = "_test"


def edgepack_server(directory: Path):
    from edgepack.web.serve import running

    return running(directory)


def open_page(browser, url: str):
    """A fresh context + page with a PageLog (edgepack.web.chromium); Pyodide starts slowly."""
    return chromium_page(browser, url, viewport={"width": 1000, "height": 900}, timeout_ms=LOAD_TIMEOUT_MS)


def predict_in_page(page, texts: list[str]) -> list[dict]:
    # A function (not a string) so Playwright calls it without eval(): the page's CSP forbids eval.
    return page.evaluate("async (texts) => (await globalThis.edgepackPyodide.predict(texts)).results", texts)


def run_python(page, code: str):
    """Run ``code`` in the page's Pyodide; its last expression must be a JSON string, returned parsed."""
    return page.evaluate(
        "async (code) => JSON.parse(await globalThis.edgepackPyodide.pyodide.runPythonAsync(code))", code)

