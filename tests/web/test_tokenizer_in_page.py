"""The JS tokenizer, as shipped in a bundle, reproduces the tokenizer golden files inside Chromium.

Same golden files and the same JS runner (web/test/conformance.mjs) as node --test: one golden suite,
many runtimes. Here the tokenizer is the bundle's own copy, loaded by the page under its CSP.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.tokenizer.conformance import describe
from tests.tokenizer.golden_support import CORPUS, GOLDEN, golden_names, load_golden
from tests.browser_support import open_page
from tests.web.bundle_support import edgepack_server

pytestmark = pytest.mark.browser

RUNNER = Path(__file__).resolve().parents[2] / "web" / "test" / "conformance.mjs"

# Every golden case of one file, in the page; `broken` answers error cases with a TypeError instead,
# which the runner must count as failures (an exception is not the expected error).
RUN_GOLDEN = """async ({name, broken}) => {
    const {Tokenizer, TokenizerSpecError} = await import('./edgepack/tokenizer.mjs');
    const {NOT_YET_IN_JS, check, parseCorpus, parseGolden, stillRefused} = await import('./golden/conformance.mjs');
    const text = async (file) => (await fetch(`./golden/${file}`)).text();
    const corpus = parseCorpus(await text('corpus.jsonl'));
    const {header, cases} = parseGolden(await text(`${name}.jsonl`));
    const spec = await text(header.tokenizer);
    if (name in NOT_YET_IN_JS) {
        return {not_yet: stillRefused(name, () => Tokenizer.fromString(spec, name), TokenizerSpecError)};
    }
    let tok = Tokenizer.fromString(spec);
    if (broken) {
        const real = tok;
        const wrap = (fn) => (...args) => {
            try { return fn.apply(real, args); }
            catch (err) { if (err instanceof TokenizerSpecError) throw new TypeError('x is undefined'); throw err; }
        };
        tok = {encode: wrap(real.encode), encodeBatch: wrap(real.encodeBatch)};
    }
    return {cases: cases.length, ...check(tok, corpus, cases, {ErrorClass: TokenizerSpecError})};
}"""


@pytest.fixture(scope="module")
def golden_url(tiny_bundle, tmp_path_factory):
    site = tmp_path_factory.mktemp("golden-site") / "site"
    shutil.copytree(tiny_bundle, site)
    shutil.copytree(GOLDEN, site / "golden")
    shutil.copyfile(CORPUS, site / "golden" / "corpus.jsonl")
    shutil.copyfile(RUNNER, site / "golden" / "conformance.mjs")
    with edgepack_server(site) as url:
        yield url


def test_golden_files_are_there():
    assert {"sample_wordlevel", "bert_uncased", "template_pairs", "pad_trunc"} <= set(golden_names())


@pytest.mark.parametrize("name", golden_names())
def test_js_tokenizer_matches_golden_in_page(browser, golden_url, name):
    with open_page(browser, golden_url) as (page, log):
        report = page.evaluate(RUN_GOLDEN, {"name": name, "broken": False})
        log.assert_clean()
    if "not_yet" in report:  # listed in web/test/conformance.mjs NOT_YET_IN_JS, with its refusal
        assert report["not_yet"] is None, report["not_yet"]
        return
    assert report["checked"] == report["cases"] > 0
    assert report["failure_count"] == 0, describe(name, report)


def test_a_crash_on_an_error_case_fails_in_page(browser, golden_url):
    errors = sum("error" in c for c in load_golden("pad_trunc_fixed")[1])
    assert errors > 0
    with open_page(browser, golden_url) as (page, log):
        report = page.evaluate(RUN_GOLDEN, {"name": "pad_trunc_fixed", "broken": True})
        log.assert_clean()
    assert report["failure_count"] == errors, describe("pad_trunc_fixed", report)
    assert "TypeError" in report["failures"][0]["why"]
