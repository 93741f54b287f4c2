"""Fixtures for the Pyodide target: the sentiment sample's Pyodide bundle, served, and ONE page.

Starting Pyodide costs seconds (a 9.6 MB wasm, the stdlib zip), so the browser tests share one
loaded page per module instead of paying that per test. Chromium is Debian's /usr/bin/chromium
driven by Playwright (never `playwright install`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.pyodide.pyodide_support import (  # noqa: E402
    CORPUS, GOLDEN_DIR, TEST_FILES, edgepack_server, open_page,
)
from tests.tokenizer import conformance  # noqa: E402


@pytest.fixture(scope="session")
def pyodide_bundle(sentiment_project, tmp_path_factory) -> Path:
    """dist/sentiment-pyodide for the fp32 sentiment model, plus the tokenizer golden files."""
    from edgepack.web.pyodide import build_pyodide_bundle

    out = tmp_path_factory.mktemp("dist") / "sentiment-pyodide"
    # brotli quality 1: compression quality is not what these tests check, build time is CI time.
    bundle = build_pyodide_bundle(sentiment_project / "build", out, brotli_quality=1).directory
    extra = bundle / TEST_FILES
    extra.mkdir()
    runner = Path(conformance.__file__)  # the one golden runner, imported by path in the page
    for path in [CORPUS, runner, *sorted(GOLDEN_DIR.glob("*.jsonl")), *sorted(GOLDEN_DIR.glob("*.tokenizer.json"))]:
        shutil.copyfile(path, extra / path.name)
    return bundle


@pytest.fixture(scope="module")
def loaded(browser, pyodide_bundle):
    """(page, log, url): the bundle's page, loaded once for the module, under `edgepack serve`."""
    with edgepack_server(pyodide_bundle) as url, open_page(browser, url) as (page, log):
        yield page, log, url


