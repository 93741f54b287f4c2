"""The Python tokenizer reproduces the golden files made by Hugging Face tokenizers, exactly."""

from __future__ import annotations

import hashlib

import pytest
from tests.tokenizer.conftest import CORPUS, GOLDEN, golden_names, load_golden

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.tokenizer import Tokenizer

NAMES = golden_names()


def test_golden_files_exist_and_cover_the_issue():
    assert {"sample_wordlevel", "bert_uncased", "bert_cased", "template_pairs", "pad_trunc"} <= set(NAMES)


def run_case(tok: Tokenizer, corpus, case):
    inputs = [(corpus[i], corpus[j] if j is not None else None) for i, j in case["inputs"]]
    try:
        if case["batch"]:
            items = [t if p is None else (t, p) for t, p in inputs]
            encs = tok.encode_batch(items, add_special_tokens=case["add_special_tokens"])
        else:
            (t, p), = inputs
            encs = [tok.encode(t, p, add_special_tokens=case["add_special_tokens"])]
    except TokenizerSpecError:
        return {"error": True}
    return {"outputs": [e.to_dict() for e in encs]}


@pytest.mark.parametrize("name", NAMES)
def test_python_matches_golden(name, corpus):
    header, cases = load_golden(name)
    assert header["corpus_sha256"] == hashlib.sha256(CORPUS.read_bytes()).hexdigest(), "regenerate golden files"
    tok = Tokenizer.from_file(GOLDEN / header["tokenizer"])
    mismatches = []
    for k, case in enumerate(cases):
        got = run_case(tok, corpus, case)
        want = {"error": True} if "error" in case else {"outputs": case["outputs"]}
        if got != want:
            mismatches.append((k, case["inputs"], want, got))
    detail = "\n".join(f"case {k} inputs={inp}\n  want={w}\n  got ={g}" for k, inp, w, g in mismatches[:3])
    assert not mismatches, f"{len(mismatches)}/{len(cases)} cases differ from {name}.jsonl\n{detail}"
