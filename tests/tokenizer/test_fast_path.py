"""The ids-only fast path (``offsets=False``) gives the full path's ids, masks, type ids and tokens.

Three proofs: every golden file (all configurations, every case, errors included) run through the
fast path; fast == full on random Unicode over the golden configurations plus variants that reach
the components the golden files do not (other BertNormalizer flags, NFD, no normalizer, no
pre-tokenizer, every split behaviour); and the runtime's BatchEncoder arrays equal the full path's.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.tokenizer import conformance
from tests.tokenizer.golden_support import GOLDEN, HERE, golden_names, load_golden

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.encoder import BatchEncoder, pad_batch
from edgepack.runtime.tokenizer import Tokenizer, normalizers, pre_tokenizers
from edgepack.runtime.tokenizer import _unicode as U

NAMES = golden_names()
CI = os.environ.get("CI", "").lower() == "true"
EXAMPLES = int(os.environ.get("TOKENIZER_FAST_EXAMPLES", "3000" if CI else "1000"))  # ~1.5 ms each
SENTIMENT = HERE.parents[1] / "samples" / "sentiment" / "tokenizer.json"


def _fields(e) -> dict:
    return {"ids": e.ids, "attention_mask": e.attention_mask, "token_type_ids": e.type_ids,
            "special_tokens_mask": e.special_tokens_mask, "tokens": e.tokens}


@pytest.mark.parametrize("name", NAMES)
def test_fast_path_matches_golden(name, corpus):
    header, cases = load_golden(name)
    tok = Tokenizer.from_file(GOLDEN / header["tokenizer"])
    assert tok._fast, f"{name}: every supported component should have a fast path"
    report = conformance.check(tok, corpus, cases, fast=True)
    assert report["failure_count"] == 0, conformance.describe(f"{name} (offsets=False)", report)


# ---- fast == full on random Unicode --------------------------------------------------------------

def _variant(base: str, **changes) -> dict:
    spec = json.loads((GOLDEN / f"{base}.tokenizer.json").read_text(encoding="utf-8"))
    spec = copy.deepcopy(spec)
    spec.update(changes)
    return spec


VARIANTS = {
    "bert_flags": _variant("bert_uncased", normalizer={"type": "BertNormalizer", "clean_text": False,
                                                        "handle_chinese_chars": False, "strip_accents": True,
                                                        "lowercase": False}),
    "no_normalizer_no_pretok": _variant("sample_wordlevel", normalizer=None, pre_tokenizer=None),
    "nfd_isolated_removed": _variant("template_pairs", normalizer={"type": "Sequence", "normalizers": [
        {"type": "NFD"}, {"type": "Replace", "pattern": {"String": "a"}, "content": ""},
        {"type": "Strip", "strip_left": False, "strip_right": True}]},
        pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Punctuation"}, {"type": "Punctuation", "behavior": "Removed"},
            {"type": "WhitespaceSplit"}]}),
    "nfkd_strip_accents_wordpiece": _variant("bert_cased", normalizer={"type": "Sequence", "normalizers": [
        {"type": "NFKD"}, {"type": "StripAccents"}, {"type": "NFC"}]}, pre_tokenizer={"type": "Whitespace"}),
}
TOKENIZERS = {name: Tokenizer.from_file(GOLDEN / load_golden(name)[0]["tokenizer"]) for name in NAMES}
TOKENIZERS.update({name: Tokenizer.from_dict(spec) for name, spec in VARIANTS.items()})
TOKENIZERS["sentiment_sample"] = Tokenizer.from_file(SENTIMENT)

TRICKY = list("aeiouAEIOU SsΣσςİıßǅ\u0301\u0308\u0323\u0307\u0345\u031b\u0300\u0302\u093c\u05b0\u1100\u1161\u11a8"
              "\uac00\u3000\u00a0\u2003\u200b\u200c\u200d\ufeff\x00\x1f\x85\t\n\r\ufffd\ue000\ud800"
              "!?.,;:'\"-_()[]{}<>/\\#@$%^&*+=|~`…—«»、。日本語中文한국ｶﾞﾊﾟﬁ①²½٣0123456789"
              "\U0001f44d\U0001f3fd\u2764\ufe0f\U0002b820") + [
    "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "<mask>", "hello world", "tok", "``", "New York", "fox",
    "Café", "!!", "<s>", "ab", "the", "movie", "good", "unaffable"]
PIECE = st.one_of(st.characters(), st.sampled_from(TRICKY), st.sampled_from(TRICKY))  # surrogates too
TEXT = st.lists(PIECE, max_size=40).map("".join)


def _outcome(fn):
    try:
        encs = fn()
    except TokenizerSpecError as e:
        return ("error", str(e))
    return [_fields(e) for e in encs]


@settings(max_examples=EXAMPLES, deadline=None, derandomize=CI,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(name=st.sampled_from(sorted(TOKENIZERS)), items=st.lists(st.tuples(TEXT, st.one_of(st.none(), TEXT)),
                                                                 min_size=1, max_size=3),
       special=st.booleans())
def test_fast_equals_full_on_random_unicode(name, items, special):
    tok = TOKENIZERS[name]
    batch = [t if p is None else (t, p) for t, p in items]
    full = _outcome(lambda: tok.encode_batch(batch, add_special_tokens=special))
    fast = _outcome(lambda: tok.encode_batch(batch, add_special_tokens=special, offsets=False))
    assert fast == full
    (t, p), = items[:1]
    assert (_outcome(lambda: [tok.encode(t, p, add_special_tokens=special, offsets=False)])
            == _outcome(lambda: [tok.encode(t, p, add_special_tokens=special)]))


def test_long_text_fast_equals_full():
    unit = "The quick brown fox, naïve café 日本語 jumps over the lazy dog!! 12345 ﬁ①\u0301 "
    text = (unit * 200)[:10_000]
    for tok in TOKENIZERS.values():
        tok = copy.copy(tok)
        tok.no_truncation()
        assert _fields(tok.encode(text, offsets=False)) == _fields(tok.encode(text))


@pytest.mark.parametrize("full, ascii_only", [("NON_SPACE_RE", "NON_SPACE_ASCII_RE"),
                                              ("BERT_PRETOK_RE", "BERT_PRETOK_ASCII_RE"),
                                              ("WHITESPACE_PRETOK_RE", "WHITESPACE_PRETOK_ASCII_RE")])
def test_ascii_pre_tokenizer_patterns_split_ascii_text_like_the_full_ones(full, ascii_only):
    """Every pair of ASCII characters, around a letter: the ASCII twin finds the same words, and so
    does the pre-tokenizer's words() (BertPreTokenizer's goes through str.split())."""
    pre = {"NON_SPACE_RE": pre_tokenizers.WhitespaceSplit(), "BERT_PRETOK_RE": pre_tokenizers.BertPreTokenizer(),
           "WHITESPACE_PRETOK_RE": pre_tokenizers.Whitespace()}[full]
    full, ascii_only = getattr(U, full), getattr(U, ascii_only)
    chars = [chr(i) for i in range(128)]
    for a in chars:
        for b in chars:
            text = f"{a}{b}x{a} {b}"
            want = full.findall(text)
            assert ascii_only.findall(text) == want and pre.words(text) == want, repr(text)


@pytest.mark.parametrize("clean_text, lowercase", [(True, True), (True, False), (False, True)])
def test_bert_normalizer_ascii_lane_equals_the_full_normalizer(clean_text, lowercase):
    """Every pair of ASCII characters (controls and whitespace included): normalize_str's ASCII
    shortcut gives the full normalizer's text."""
    from edgepack.runtime.tokenizer.normalized import NormalizedString

    norm = normalizers.BertNormalizer(clean_text=clean_text, lowercase=lowercase)
    chars = [chr(i) for i in range(128)]
    for a in chars:
        for b in chars:
            ns = NormalizedString(f"{a}X{b}y {a}")
            norm.normalize(ns)
            assert norm.normalize_str(f"{a}X{b}y {a}") == ns.text


# ---- fallback and the runtime --------------------------------------------------------------------

def test_component_without_fast_method_falls_back_to_the_full_path(monkeypatch, corpus):
    monkeypatch.delattr(normalizers.Lowercase, "normalize_str")
    tok = Tokenizer.from_file(SENTIMENT)
    assert not tok._fast
    full = Tokenizer.from_file(SENTIMENT)  # offsets=True: the full path, which needs no normalize_str
    texts = corpus[:200]
    got = tok.encode_batch(texts, offsets=False)
    assert all(e.offsets is None for e in got)
    assert [_fields(e) for e in got] == [_fields(e) for e in full.encode_batch(texts)]


def test_wordpiece_word_cache_overflow_keeps_answers(corpus):
    tok = Tokenizer.from_file(GOLDEN / "bert_uncased.tokenizer.json")
    tok.model.CACHE_SIZE = 3  # clears all the time
    texts = (corpus[::7] + ["unaffable amazing, unaffably", "an unaffable tokenizer"]) * 2  # 2nd half: hits
    assert [_fields(e) for e in tok.encode_batch(texts, offsets=False)] == [_fields(e) for e in tok.encode_batch(texts)]
    assert 0 < len(tok.model._cache) <= 3


def test_offsets_default_unchanged():
    tok = Tokenizer.from_file(SENTIMENT)
    e = tok.encode("Hello, world!")
    assert e.offsets and e.offsets[0] == (0, 5)
    assert tok.encode("Hello, world!", offsets=False).to_dict()["offsets"] is None


def test_batch_encoder_uses_fast_path_and_gives_the_full_paths_arrays(corpus):
    names = ["input_ids", "attention_mask", "token_type_ids"]
    enc = BatchEncoder(Tokenizer.from_file(SENTIMENT), names, 64)
    texts = corpus[:: max(1, len(corpus) // 64)]
    for batch in (texts[:1], texts[:7], texts, [""]):
        got = enc(batch)
        want = pad_batch(enc.tokenizer.encode_batch(batch), enc.pad_id, names)
        assert set(got) == set(want) == set(names)
        for name in names:
            assert got[name].dtype == want[name].dtype and got[name].shape == want[name].shape
            assert (got[name] == want[name]).all(), name
    assert enc.encode_one("Hello, world!").offsets is None
