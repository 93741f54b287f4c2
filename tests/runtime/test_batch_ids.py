"""The whole-batch path (edgepack.runtime.tokenizer.batch_ids) gives the per-text path's feeds, byte for byte.

The oracle is the exact path, ``pad_batch(tokenizer.encode_batch(texts, offsets=False), ...)`` (itself
held to the reference's golden files in tests/tokenizer). Random batches over every sample's
tokenizer.json and the golden configurations, explicit fallbacks (non-ASCII, NUL, added tokens,
pairs, changed settings), and a check that the sentiment sample really takes the batch path.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import tomllib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgepack.bench.runner import make_texts
from edgepack.errors import TokenizerSpecError
from edgepack.runtime.encoder import BatchEncoder, pad_batch
from edgepack.runtime.tokenizer import Tokenizer, batch_ids

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "tokenizer" / "golden"
SENTIMENT = ROOT / "samples" / "sentiment"
NAMES = ["input_ids", "attention_mask", "token_type_ids"]
CI = os.environ.get("CI", "").lower() == "true"
EXAMPLES = int(os.environ.get("BATCH_IDS_EXAMPLES", "120" if CI else "80"))

FILES = sorted({p for p in (*ROOT.glob("samples/*/tokenizer.json"), *ROOT.glob("samples/*/model/tokenizer.json"),
                            *GOLDEN.glob("*.tokenizer.json"))})


def _spec(path: pathlib.Path, **changes) -> dict:
    spec = json.loads(path.read_text(encoding="utf-8"))
    spec.update(copy.deepcopy(changes))
    return spec


def _template(types: tuple[int, int, int]) -> dict:
    cls, seq, sep = types
    return {"type": "TemplateProcessing", "single": [
        {"SpecialToken": {"id": "[CLS]", "type_id": cls}}, {"Sequence": {"id": "A", "type_id": seq}},
        {"SpecialToken": {"id": "[SEP]", "type_id": sep}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                           "[SEP]": {"id": "[SEP]", "ids": [3, 4], "tokens": ["[SEP]", "[MASK]"]}}}


WORDLEVEL, BERT = GOLDEN / "sample_wordlevel.tokenizer.json", GOLDEN / "bert_uncased.tokenizer.json"
_long_vocab = _spec(BERT)["model"]["vocab"] | {"a" * 101: 5000, "b" * 100: 5001}
# Components the samples and golden files do not reach, covered (first group) or not (second).
VARIANTS = {
    "variant:typed_template": _spec(GOLDEN / "bert_cased.tokenizer.json", post_processor=_template((1, 2, 3))),
    "variant:inside_splitters": _spec(WORDLEVEL, normalizer={"type": "Sequence", "normalizers": [
        {"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"}]}, pre_tokenizer={
        "type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "MergedWithNext"},
            {"type": "Digits", "individual_digits": True}, {"type": "BertPreTokenizer"}]}),
    "variant:whitespace_nmt": _spec(WORDLEVEL, normalizer={"type": "Nmt"}, pre_tokenizer={"type": "Whitespace"}),
    "variant:bert_cased_clean": _spec(BERT, normalizer={"type": "BertNormalizer", "lowercase": False},
                                      post_processor=None),
    "variant:long_vocab_words": _spec(BERT, model={**_spec(BERT)["model"], "vocab": _long_vocab}),
    "variant:split_after_whitespace": _spec(WORDLEVEL, pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Split", "pattern": {"String": "o"}, "behavior": "Removed"}]}),
    "variant:metaspace": _spec(WORDLEVEL, pre_tokenizer={"type": "Metaspace"}),
    "variant:strip": _spec(WORDLEVEL, normalizer={"type": "Strip"}),
    "variant:no_pre_tokenizer": _spec(WORDLEVEL, pre_tokenizer=None),
}
SPECS = {str(p.relative_to(ROOT)): _spec(p) for p in FILES} | VARIANTS
UNCOVERED = sorted(
    [f"samples/{s}/model/tokenizer.json" for s in ("roberta-classifier", "xlmr-embedder")]
    + [f"tests/tokenizer/golden/{g}.tokenizer.json" for g in ("added_tokens", "gpt2_bpe", "llama3_split_bpe",
                                                               "llama_byte_fallback", "merged_punct", "roberta_bpe",
                                                               "template_pairs", "xlmr_unigram")]
    + ["variant:split_after_whitespace", "variant:metaspace", "variant:strip", "variant:no_pre_tokenizer"])
# Truncation set-ups the batch path has its own code for: none, the manifest's cap, short ones from
# either side (rows longer than max_length), and OnlyFirst (the same as LongestFirst for one text).
TRUNCATIONS = [None, {"max_length": 64}, {"max_length": 7, "direction": "left"},
               {"max_length": 5, "strategy": "only_first"}, {"max_length": 3, "direction": "right"}]
PAD_ID = 7  # not 0, so a row padded with the wrong id shows


def _tokenizer(name: str, truncation=None) -> Tokenizer:
    tok = Tokenizer.from_dict(copy.deepcopy(SPECS[name]), name)
    tok.no_padding()  # as BatchEncoder leaves it
    if truncation is None:
        tok.no_truncation()
    else:
        try:
            tok.enable_truncation(**truncation)
        except TokenizerSpecError:  # max_length below the post-processor's special tokens
            tok.enable_truncation(max_length=16)
    return tok


# The random batches go to the configurations the batch path covers (the others answer None at once;
# test_coverage_is_as_documented holds them to that).
COVERED = [f"{name}|{k}" for name in sorted(set(SPECS) - set(UNCOVERED)) for k in range(len(TRUNCATIONS))]
_CACHE: dict[str, tuple] = {}


def _setup(key: str):
    """(tokenizer, BatchIds, ASCII vocabulary words) for a config, made once."""
    if key not in _CACHE:
        name, k = key.split("|")
        tok = _tokenizer(name, TRUNCATIONS[int(k)])
        words = sorted(w for w in tok.get_vocab() if w.isascii())
        _CACHE[key] = (tok, batch_ids.BatchIds(tok, PAD_ID, NAMES), words)
    return _CACHE[key]


def exact(tok: Tokenizer, texts, names=NAMES, pad_id=0) -> dict:
    return pad_batch(tok.encode_batch(list(texts), offsets=False), pad_id, names)


def assert_same(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for name in want:
        g, w = got[name], want[name]
        assert (g.dtype, g.shape, g.flags.c_contiguous) == (w.dtype, w.shape, w.flags.c_contiguous), name
        assert g.tobytes() == w.tobytes(), (name, g, w)


ASCII = st.characters(max_codepoint=127)
PUNCT = st.sampled_from(list("!?.,;:'\"-_()[]{}<>/\\#@$%^&*+=|~`"))
ODD = st.sampled_from(["\x00", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x7f", "\x01", "", "  ", " \x00 ",
                       "[PAD]", "[UNK]", "[CLS]", "<s>", "<mask>", "\u00e9", "\u2003", "\u65e5", "\ufb01",
                       "x" * 120, "a" * 101, "b" * 100, "UNAFFABLE", "Hello", "N0 42nd", "good\x1cmovie"])


@st.composite
def batches(draw):
    key = draw(st.sampled_from(COVERED))
    tok, fast, words = _setup(key)
    word = st.sampled_from(words).map(lambda w: w.upper() if len(w) % 3 == 0 else w)
    piece = st.one_of(word, word, word, PUNCT, ASCII, ODD)
    text = st.one_of(
        st.lists(piece, max_size=12).map(" ".join),
        st.lists(st.one_of(word, PUNCT), min_size=60, max_size=90).map(" ".join),  # beyond max_length
        st.lists(piece, max_size=8).map("".join),
        st.just(""),
    )
    clean = st.lists(st.lists(word, max_size=10).map(" ".join), min_size=1, max_size=40)
    texts = draw(st.one_of(st.lists(text, min_size=1, max_size=40), clean))
    return key, tok, fast, texts


@settings(max_examples=EXAMPLES, deadline=None, derandomize=CI,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=batches())
def test_batch_path_equals_the_exact_path(case):
    key, tok, fast, texts = case
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch_ids, "MIN_BATCH", 1)  # batches of 1-3 through the batch path too
        got = fast.feeds(texts)
    want = exact(tok, texts, NAMES, PAD_ID)
    if got is not None:
        assert_same(got, want)
    assert fast.ok, key
    if all(t.isascii() and t.strip("abcdefghijklmnopqrstuvwxyz ") == "" for t in texts):
        assert got is not None, f"{key}: a batch of lowercase vocabulary words fell back"


# ---- explicit cases --------------------------------------------------------------------------------

def _sentiment_encoder(names=NAMES) -> BatchEncoder:
    return BatchEncoder(Tokenizer.from_file(SENTIMENT / "tokenizer.json"), names, 64)


def _bench_texts(tok, count=32):
    examples = tomllib.loads((SENTIMENT / "edgepack.toml").read_text(encoding="utf-8"))["examples"]["texts"]
    return make_texts(tok, 16, count, examples)


def test_sentiment_sample_takes_the_batch_path():
    """The issue-16 case: 32 texts of 16 tokens through BatchEncoder. A silent fallback fails here."""
    for names in (["input_ids", "attention_mask"], NAMES):
        enc = _sentiment_encoder(names)
        assert enc.batch_ids.ok
        texts = _bench_texts(enc.tokenizer)
        before = enc.batch_ids.taken
        got = enc(texts)
        assert enc.batch_ids.taken == before + 1
        assert_same(got, exact(enc.tokenizer, texts, names, enc.pad_id))


@pytest.mark.parametrize("path", [p for p in FILES if "samples" in p.parts], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_covered_sample_takes_the_batch_path(path):
    enc = BatchEncoder(Tokenizer.from_file(path), NAMES, 64)
    if type(enc.tokenizer.model).__name__ not in ("WordLevel", "WordPiece"):
        assert not enc.batch_ids.ok  # BPE / Unigram: the exact path
        return
    assert enc.batch_ids.ok, path
    texts = ["Hello, world! A fine day.", "", "the movie was GOOD", "x" * 150, "unaffable? (maybe)"] * 3
    got = enc(texts)
    assert enc.batch_ids.taken == 1
    assert_same(got, exact(enc.tokenizer, texts, NAMES, enc.pad_id))


@pytest.mark.parametrize("odd", ["Caf\u00e9 is good", "a\x00b", "bad [PAD] movie", "[UNK]", "\ud800 lone"],
                         ids=["non-ascii", "nul", "added-token", "added-token-alone", "surrogate"])
def test_one_odd_text_sends_the_batch_back_with_the_same_answer(odd):
    enc = _sentiment_encoder()
    texts = _bench_texts(enc.tokenizer, 8)
    texts[3] = odd
    assert enc.batch_ids.feeds(texts) is None
    assert_same(enc(texts), exact(enc.tokenizer, texts, NAMES, enc.pad_id))
    assert enc.batch_ids.taken == 0


def test_text_holding_the_separator_itself():
    enc = _sentiment_encoder()
    texts = ["good", "a \x00 b", "bad", "fine"]  # " \x00 " inside one text: n - 1 separators no more
    assert enc.batch_ids.feeds(texts) is None
    assert_same(enc(texts), exact(enc.tokenizer, texts, NAMES, enc.pad_id))


def test_normalized_added_token_sends_the_batch_back():
    spec = json.loads((SENTIMENT / "tokenizer.json").read_text(encoding="utf-8"))
    spec["added_tokens"].append({"id": 900, "content": "great movie", "single_word": False, "lstrip": False,
                                 "rstrip": False, "normalized": True, "special": False})
    enc = BatchEncoder(Tokenizer.from_dict(spec), NAMES, 64)
    texts = ["a GREAT MOVIE indeed", "good", "bad", "fine"]  # matches only after lowercasing
    assert enc.batch_ids.feeds(texts) is None
    want = exact(enc.tokenizer, texts, NAMES, enc.pad_id)
    assert 900 in want["input_ids"][0]
    assert_same(enc(texts), want)


def test_pairs_and_non_strings_take_the_exact_path():
    enc = BatchEncoder(Tokenizer.from_file(GOLDEN / "bert_uncased.tokenizer.json"), NAMES, 64)
    pairs = [("a question?", "an answer."), ("yes", "no"), ("x", None), ("hello", "world")]
    assert enc.batch_ids.feeds(pairs) is None
    assert_same(enc(pairs), exact(enc.tokenizer, pairs, NAMES, enc.pad_id))
    with pytest.raises(TypeError):
        enc(["a", "b", 3, "c"])


def test_batch_of_one_two_and_empty_batch():
    enc = _sentiment_encoder()
    for texts in (["Hello, world!"], [""], ["a " * 200]):  # one text: its own route (_one), taken
        before = enc.batch_ids.taken
        assert enc.batch_ids.feeds(texts) is not None and enc.batch_ids.taken == before + 1
        assert_same(enc(texts), exact(enc.tokenizer, texts, NAMES, enc.pad_id))
    for texts in (["good", "bad"], []):
        assert enc.batch_ids.feeds(texts) is None  # two texts: the per-text path is as fast; none: nothing to do
        assert_same(enc(texts), exact(enc.tokenizer, texts, NAMES, enc.pad_id))


def test_settings_changed_after_construction_are_seen():
    enc = _sentiment_encoder()
    tok = enc.tokenizer
    texts = ["good movie " * 10, "bad", "", "fine, fine."]
    tok.enable_truncation(max_length=3, strategy="only_second")  # raises for a long single text
    assert enc.batch_ids.feeds(texts) is None
    with pytest.raises(TokenizerSpecError):
        enc(texts)
    tok.enable_truncation(max_length=4, direction="left")
    assert_same(enc(texts), exact(tok, texts, NAMES, enc.pad_id))
    assert enc.batch_ids.taken == 1
    tok.enable_padding(length=40)
    assert enc.batch_ids.feeds(texts) is None
    assert_same(enc(texts), exact(tok, texts, NAMES, enc.pad_id))
    tok.no_padding()
    tok.normalizer = None  # a different component than the one the batch path was built for
    assert enc.batch_ids.feeds(texts) is None
    assert_same(enc(texts), exact(tok, texts, NAMES, enc.pad_id))


def test_wordlevel_without_unk_raises_the_models_error():
    spec = json.loads((SENTIMENT / "tokenizer.json").read_text(encoding="utf-8"))
    spec["model"]["unk_token"] = None
    enc = BatchEncoder(Tokenizer.from_dict(spec), NAMES, 64)
    assert enc.batch_ids.ok
    with pytest.raises(TokenizerSpecError, match="not in the vocabulary"):
        enc(["good", "bad", "zzzqqq", "fine"])
    texts = ["good", "bad", "movie", "fine"]
    assert_same(enc(texts), exact(enc.tokenizer, texts, NAMES, enc.pad_id))


def test_wordpiece_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(batch_ids, "CACHE_SIZE", 3)
    tok = Tokenizer.from_file(GOLDEN / "bert_uncased.tokenizer.json")
    enc = BatchEncoder(tok, NAMES, 64)
    texts = [f"unaffable{k} tokenizers{k}x amazingly{k}" for k in range(12)] * 2
    assert_same(enc(texts), exact(tok, texts, NAMES, enc.pad_id))
    assert enc.batch_ids.taken == 1
    assert 0 < len(enc.batch_ids._lookup.cache) <= 3


def test_template_type_ids_and_left_truncation():
    """pad_trunc_fixed: TemplateProcessing with type ids, OnlyFirst truncation from the left."""
    tok = Tokenizer.from_file(GOLDEN / "pad_trunc_fixed.tokenizer.json")
    enc = BatchEncoder(tok, ["token_type_ids", "input_ids", "attention_mask"], None)
    texts = ["Hello there, General Kenobi! " * 4, "short", "", "A medium sentence, with commas."]
    got = enc(texts)
    assert enc.batch_ids.taken == 1
    assert_same(got, exact(tok, texts, ["token_type_ids", "input_ids", "attention_mask"], enc.pad_id))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_coverage_is_as_documented(name):
    enc = BatchEncoder(_tokenizer(name), NAMES, 64)
    assert enc.batch_ids.ok == (name not in UNCOVERED), name
    texts = ["Hello, world!", "the movie", "", "x y z"]
    assert_same(enc(texts), exact(enc.tokenizer, texts, NAMES, enc.pad_id))
    assert enc.batch_ids.taken == (name not in UNCOVERED)


def test_unknown_input_name_keeps_pad_batchs_error():
    enc = _sentiment_encoder(["input_ids", "pixel_values"])
    assert not enc.batch_ids.ok
    with pytest.raises(KeyError):
        enc(["a", "b", "c", "d"])


def test_feeds_are_independent_per_call():
    enc = _sentiment_encoder()
    texts = _bench_texts(enc.tokenizer, 8)
    a = enc(texts)
    a["input_ids"][:] = -5
    b = enc(texts)
    assert (b["input_ids"] != -5).all() and np.array_equal(b["input_ids"], exact(enc.tokenizer, texts)["input_ids"])
    copy.deepcopy(b)


def test_words_longer_than_wordpiece_allows_are_unk_even_in_the_vocabulary():
    enc = BatchEncoder(_tokenizer("variant:long_vocab_words"), NAMES, 64)
    texts = ["a" * 101, "b" * 100, "a" * 100, "go " + "a" * 101]
    got = enc(texts)
    assert enc.batch_ids.taken == 1
    assert_same(got, exact(enc.tokenizer, texts, NAMES, enc.pad_id))
    assert got["input_ids"][1][1] == 5001 and got["input_ids"][0][1] != 5000


def test_characters_where_str_split_and_white_space_disagree():
    """\\x1c-\\x1f: str.split() cuts there, BertPreTokenizer does not (they are word characters)."""
    enc = _sentiment_encoder()
    texts = ["good\x1cmovie", "bad \x1f", "\x1d", "fine, fine."]
    got = enc(texts)
    assert enc.batch_ids.taken == 1
    assert_same(got, exact(enc.tokenizer, texts, NAMES, enc.pad_id))


def test_typed_template_gives_its_type_ids():
    enc = BatchEncoder(_tokenizer("variant:typed_template"), NAMES, 64)
    texts = ["Hello there", "", "a b c d e", "ok"]
    got = enc(texts)
    assert enc.batch_ids.taken == 1
    assert_same(got, exact(enc.tokenizer, texts, NAMES, enc.pad_id))
    assert got["token_type_ids"][1].tolist()[:6] == [1, 3, 3, 0, 0, 0] and 2 in got["token_type_ids"][0]


@pytest.mark.parametrize("change", [{" ": ""}, {"q": "\x00"}, {"q": "\u00e9"}], ids=["drops-space", "makes-nul",
                                                                                       "non-ascii"])
def test_a_normalizer_that_breaks_the_separator_is_refused(monkeypatch, change):
    """The table's guards, for a normalizer of a covered kind that would behave otherwise."""
    from edgepack.runtime.tokenizer import normalizers

    real = normalizers.Lowercase.normalize_str
    monkeypatch.setattr(normalizers.Lowercase, "normalize_str", lambda self, text: change.get(text, real(self, text)))
    assert batch_ids._char_table(normalizers.Lowercase()) is False
    assert batch_ids._char_table(normalizers.Sequence([normalizers.UnicodeForm("NFC"), normalizers.Lowercase()])) \
        is False
