"""The JS tokenizer, as shipped in a bundle, reproduces the tokenizer golden files inside Chromium.

Same golden files as tests/tokenizer (Python) and web/test/tokenizer.test.mjs (Node): one golden
suite, three runtimes. Here the module is the bundle's own copy, loaded by the page under its CSP.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.web.conftest import edgepack_server, open_page

pytestmark = pytest.mark.browser

TOKENIZER_TESTS = Path(__file__).resolve().parents[1] / "tokenizer"
GOLDEN = TOKENIZER_TESTS / "golden"

# Runs every golden case of one file in the page; returns mismatches (at most 3) and counts.
RUN_GOLDEN = """async ({name}) => {
    const {Tokenizer} = await import('./edgepack/tokenizer.mjs');
    const corpus = (await (await fetch('./golden/corpus.jsonl')).text()).split('\\n').filter(Boolean).map(JSON.parse);
    const lines = (await (await fetch(`./golden/${name}.jsonl`)).text()).split('\\n').filter(Boolean);
    const header = JSON.parse(lines[0]);
    const tok = Tokenizer.fromString(await (await fetch(`./golden/${header.tokenizer}`)).text());
    // Encoding.toJSON() is the golden-file form (snake_case keys, code-point offsets).
    const plain = (e) => JSON.parse(JSON.stringify(e));
    let checked = 0;
    const bad = [];
    for (const line of lines.slice(1)) {
        const c = JSON.parse(line);
        const items = c.inputs.map(([i, j]) => [corpus[i], j === null ? undefined : corpus[j]]);
        const opts = {addSpecialTokens: c.add_special_tokens};
        let got;
        try {
            const encs = c.batch
                ? tok.encodeBatch(items.map(([t, p]) => (p === undefined ? t : [t, p])), opts)
                : [tok.encode(items[0][0], items[0][1], opts)];
            got = {outputs: encs.map(plain)};
        } catch (err) {
            got = {error: true, message: String(err && err.message)};
        }
        checked += 1;
        const want = c.error ? {error: true} : {outputs: c.outputs};
        let same;
        if (want.error || got.error) same = !!want.error === !!got.error;
        else same = want.outputs.length === got.outputs.length && want.outputs.every((w, k) =>
            Object.keys(w).every((key) => JSON.stringify(w[key]) === JSON.stringify(got.outputs[k][key])));
        if (!same && bad.length < 3) bad.push({inputs: c.inputs, want, got});
        else if (!same) bad.push(null);
    }
    return {checked, failures: bad.length, examples: bad.filter(Boolean)};
}"""


def golden_names():
    return sorted(p.name[: -len(".jsonl")] for p in GOLDEN.glob("*.jsonl"))


@pytest.fixture(scope="module")
def golden_url(tiny_bundle, tmp_path_factory):
    site = tmp_path_factory.mktemp("golden-site") / "site"
    shutil.copytree(tiny_bundle, site)
    shutil.copytree(GOLDEN, site / "golden")
    shutil.copyfile(TOKENIZER_TESTS / "corpus.jsonl", site / "golden" / "corpus.jsonl")
    with edgepack_server(site) as url:
        yield url


def test_golden_files_are_there():
    assert {"sample_wordlevel", "bert_uncased", "template_pairs", "pad_trunc"} <= set(golden_names())


@pytest.mark.parametrize("name", golden_names())
def test_js_tokenizer_matches_golden_in_page(browser, golden_url, name):
    with open_page(browser, golden_url) as (page, log):
        result = page.evaluate(RUN_GOLDEN, {"name": name})
        log.assert_clean()
    assert result["checked"] > 0
    detail = json.dumps(result["examples"], ensure_ascii=False)[:2000]
    assert result["failures"] == 0, f"{result['failures']}/{result['checked']} cases differ from {name}.jsonl: {detail}"
