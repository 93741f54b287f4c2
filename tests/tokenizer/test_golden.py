"""The Python tokenizer reproduces the golden files made by Hugging Face tokenizers, exactly, through
the one golden runner (tests/tokenizer/conformance.py), whose error rule is proved here too."""

from __future__ import annotations

import hashlib

import pytest
from tests.tokenizer import conformance
from tests.tokenizer.golden_support import CORPUS, GOLDEN, golden_names, load_golden

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.tokenizer import Tokenizer

NAMES = golden_names()


def test_golden_files_exist_and_cover_the_issue():
    assert {"sample_wordlevel", "bert_uncased", "bert_cased", "template_pairs", "pad_trunc"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_python_matches_golden(name, corpus):
    header, _ = load_golden(name)
    assert header["corpus_sha256"] == hashlib.sha256(CORPUS.read_bytes()).hexdigest(), "regenerate golden files"
    report = conformance.check_file(GOLDEN, name, corpus)
    assert report["checked"] == report["cases"] > 0
    assert report["failure_count"] == 0, conformance.describe(name, report)


# ---- the runner's rule: an expected error must be the expected error ---------------------------

class Broken:
    """The real tokenizer, with its refusals replaced by ``refuse(exc)``: what a crash looks like."""

    def __init__(self, tok, refuse):
        self.tok, self.refuse = tok, refuse

    def encode(self, *args, **kwargs):
        try:
            return self.tok.encode(*args, **kwargs)
        except TokenizerSpecError as exc:
            return self.refuse(exc)

    def encode_batch(self, *args, **kwargs):
        try:
            return self.tok.encode_batch(*args, **kwargs)
        except TokenizerSpecError as exc:
            return self.refuse(exc)


def _type_error(exc):
    raise TypeError("'NoneType' object is not subscriptable")


def _other_refusal(exc):
    raise TokenizerSpecError("WordPiece: unk_token '[UNK]' is not in model.vocab; add it")


def _no_refusal(exc):
    return []


@pytest.mark.parametrize("refuse", [_type_error, _other_refusal, _no_refusal])
def test_a_tokenizer_that_fails_error_cases_differently_fails_the_runner(refuse, corpus):
    header, cases = load_golden("pad_trunc_fixed")
    errors = sum("error" in c for c in cases)
    assert errors > 0, "pad_trunc_fixed has no error case left: pick a golden file that has"
    tok = Tokenizer.from_file(GOLDEN / header["tokenizer"])
    assert conformance.check(tok, corpus, cases)["failure_count"] == 0
    report = conformance.check(Broken(tok, refuse), corpus, cases)
    assert report["failure_count"] == errors, conformance.describe("pad_trunc_fixed", report)
    assert report["failures"][0]["why"].startswith("expected")


def test_a_crash_on_an_output_case_fails_the_runner(corpus):
    header, cases = load_golden("bert_uncased")
    tok = Tokenizer.from_file(GOLDEN / header["tokenizer"])
    crashing = Broken(tok, _type_error)
    crashing.encode = lambda *a, **k: _type_error(None)
    report = conformance.check(crashing, corpus, cases[:5])
    assert report["failure_count"] == 5
    assert "TypeError" in report["failures"][0]["why"]
