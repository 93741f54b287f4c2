"""Byte-level BPE, Unigram and byte fallback (issue 14): what the golden files do not show alone.

The golden files (test_golden.py, test_fast_path.py) hold the four new kinds to the reference on the
shared corpus. Here: multilingual text next to the reference (Thai, Hindi, Arabic, CJK without
spaces, emoji sequences, mixed scripts), decoding, random Unicode biased to the characters these
pipelines treat specially, regex translation against Oniguruma, the BPE cache bound, and time that
grows linearly with the input (CPU time of n and 4n in one run, never an absolute time).
"""

from __future__ import annotations

import gc
import json
import os
import time

import pytest
from tests.tokenizer.golden_support import GOLDEN

from edgepack.runtime.tokenizer import Tokenizer
from edgepack.runtime.tokenizer.bpe import BPE

tokenizers = pytest.importorskip("tokenizers")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NAMES = ["roberta_bpe", "gpt2_bpe", "llama_byte_fallback", "llama3_split_bpe", "xlmr_unigram"]
CI = os.environ.get("CI", "").lower() == "true"

MULTILINGUAL = [
    "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ",  # Thai: no spaces between words
    "नमस्ते, आप कैसे हैं? क्षत्रिय",  # Hindi: conjuncts, virama
    "مرحبا بالعالم! السَّلَامُ عَلَيْكُمْ ١٢٣",  # Arabic with harakat, Arabic-Indic digits
    "東京都は日本の首都です。中文没有空格。",  # CJK without spaces
    "한국어 문장입니다",
    "👨‍👩‍👧‍👦 family 🏳️‍🌈 flag 👍🏽 🇫🇷🇩🇪 ❤️",  # ZWJ sequences, modifiers, flags
    "Mixed: Ελληνικά, русский, עברית, ไทย, 日本語 and English in one line",
    "ｶﾞｷﾞ ﬁ ① ½ Ａｂｃ ™ ㍿",  # what NFKC-style charsmaps change
    "line one\r\nline two\n\ttabbed   spaces  here ",
    "e\u0301 a\u0308 \u0600a a\u200db \r\u0301",  # combining marks, prepend, ZWJ: short clusters
    "already ▁ metaspace ▁▁ and Ġ byte chars",
    "   leading and trailing spaces   ",
    "<mask> masked<mask> <s> special </s>",
    "<s>starts with an added token</s>then more",
    "It's we'll they've I'm 1234567 3.14159",
    "IT'S it'\u017f o\u212a \u0130'M \ufb06 \u00df 'D",  # what (?i:...) folds: long s, Kelvin sign; multi-char folds
    "",
]


def _load(name):
    path = GOLDEN / f"{name}.tokenizer.json"
    return tokenizers.Tokenizer.from_file(str(path)), Tokenizer.from_file(path)


PAIRS = {name: _load(name) for name in NAMES}


def _ref(tok, text, pair=None):
    e = tok.encode(text, pair)
    return (e.ids, e.type_ids, e.tokens, [tuple(o) for o in e.offsets], e.attention_mask, e.special_tokens_mask)


def _ours(tok, text, pair=None, offsets=True):
    e = tok.encode(text, pair, offsets=offsets)
    return (e.ids, e.type_ids, e.tokens, e.offsets if offsets else None, e.attention_mask, e.special_tokens_mask)


@pytest.mark.parametrize("name", NAMES)
def test_multilingual_text_equals_reference(name):
    ref, ours = PAIRS[name]
    for k, text in enumerate(MULTILINGUAL):
        pair = MULTILINGUAL[(k * 5 + 2) % len(MULTILINGUAL)]
        for p in (None, pair):
            want = _ref(ref, text, p)
            assert _ours(ours, text, p) == want, (name, text, p)
            fast = _ours(ours, text, p, offsets=False)
            assert fast[:3] == want[:3] and fast[4:] == want[4:], (name, text, p)
        ids = ref.encode(text).ids
        for skip in (True, False):
            assert ours.decode(ids, skip_special_tokens=skip) == ref.decode(ids, skip_special_tokens=skip), (name, text)


@pytest.mark.parametrize("name", NAMES)
def test_decode_equals_reference_on_the_corpus(name, corpus):
    ref, ours = PAIRS[name]
    for text in corpus[::7]:
        ids = ref.encode(text).ids
        assert ours.decode(ids) == ref.decode(ids), (name, text)
    # Byte tokens that do not form UTF-8, alone: U+FFFD as the reference writes it.
    vocab = ours.get_vocab()
    broken = [vocab[t] for t in ("<0xE6>", "<0x97>", "a", "<0xFF>") if t in vocab]
    assert ours.decode(broken) == ref.decode(broken)


# Characters these pipelines treat specially, mixed with any code point (no surrogates: the
# reference refuses them, see SPEC.md "Bad input").
TRICKY = list(" \u2581\u0120\r\n\t\u3000\u00a0\u200d\u200c\u0301\u0308\u0e31\u0e48\u093f\u094d\u064e\u0600'sltvmdr"
              "ภาษาไทยनमस्तेمرحبا日本語한국ｶﾞﬁ①½™0123456789!?.,\U0001f44d\U0001f3fd\U0001f1eb\U0001f1f7\u2764\ufe0f"
              "\ufffd\x00\x1f\x7f") + ["<mask>", "<s>", "</s>", "<pad>", "<|endoftext|>", "'ll", "'re", "  ", "\r\n"]
TEXT = st.lists(st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(TRICKY), st.sampled_from(TRICKY)),
                max_size=30).map("".join)


@settings(max_examples=2000 if CI else 200, deadline=None, derandomize=CI,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(name=st.sampled_from(NAMES), text=TEXT, pair=st.one_of(st.none(), TEXT))
def test_new_models_equal_reference_on_random_unicode(name, text, pair):
    ref, ours = PAIRS[name]
    want = _ref(ref, text, pair)
    assert _ours(ours, text, pair) == want
    fast = _ours(ours, text, pair, offsets=False)
    assert fast[:3] == want[:3] and fast[4:] == want[4:]


# Regexes as tokenizer.json files carry them (GPT-2, Llama-3 style, XLM-R's space runs, ...).
PATTERNS = [
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"(?i:ok|(?:a)b)+", r" {2,}", r"\s+", r"[\p{P}\p{S}]", r"\d+|\D", r"\w+|\W", r"[\p{Lu}\p{Lt}][\p{Ll}\p{M}]*", r"(?:ab|c)+?d?",
    r"[^\p{L}\p{N}\p{M}]", r"\p{Lo}+", r"[a-z\-\]]+", r"^\s*|\s*$",
]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("behavior", ["isolated", "removed", "merged_with_next", "contiguous"])
def test_split_regex_equals_oniguruma(pattern, behavior, corpus):
    spec = {"type": "Split", "pattern": {"Regex": pattern}, "behavior": behavior.title().replace("_", ""),
            "invert": behavior == "removed"}
    ref = tokenizers.pre_tokenizers.Split(tokenizers.Regex(pattern), behavior, invert=behavior == "removed")
    spec["behavior"] = {"isolated": "Isolated", "removed": "Removed", "merged_with_next": "MergedWithNext",
                        "contiguous": "Contiguous"}[behavior]
    base = json.loads((GOLDEN / "sample_wordlevel.tokenizer.json").read_text(encoding="ascii"))
    base.update(normalizer=None, pre_tokenizer=spec, truncation=None, padding=None, post_processor=None)
    ours = Tokenizer.from_dict(base).pre_tokenizer
    for text in corpus[::3] + MULTILINGUAL:
        want = [tuple(o) for _, o in ref.pre_tokenize_str(text)]
        assert ours.split(text, 0, len(text)) == want, (pattern, behavior, text)


def test_bpe_cache_is_bounded():
    _, ours = PAIRS["gpt2_bpe"]
    model = ours.model
    assert isinstance(model, BPE)
    model._cache.clear()
    words = [f"w{k}x" for k in range(BPE.CACHE_SIZE + 50)]
    ours.encode(" ".join(words), offsets=False)
    assert 0 < len(model._cache) <= BPE.CACHE_SIZE
    model._cache.clear()
    ours.encode("a" * (BPE.CACHE_WORD + 1))
    assert not model._cache, "a word longer than CACHE_WORD must not be cached"


def _cpu(fn) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()
        fn()
        return time.process_time() - t0
    finally:
        gc.enable()


@pytest.mark.parametrize("name", NAMES)
def test_time_grows_linearly(name, corpus):
    """CPU time of 4n over n: about 4 when linear, 16 when quadratic. The bound is generous (a busy
    machine), and still far below quadratic. Text: 250k -> 1M characters, ids only (the runtime's
    path). One word without spaces: 25k -> 100k characters, with offsets."""
    _, ours = PAIRS[name]
    tok = Tokenizer.from_str(json.dumps({**json.loads((GOLDEN / f"{name}.tokenizer.json").read_text("ascii")),
                                         "truncation": None, "padding": None}))
    text = " ".join(t for t in corpus if len(t) < 300)
    long = (text * (1_000_000 // len(text) + 1))[:1_000_000]
    word = ("日本語中文한국어abcdefghijklmnop😀" * 4000)[:100_000]
    word = word.replace(" ", "")
    checks = [("text", long, False), ("word", word, True)]
    for label, s, offsets in checks:
        short = s[: len(s) // 4]
        small = _cpu(lambda: tok.encode(short, offsets=offsets))
        big = _cpu(lambda: tok.encode(s, offsets=offsets))
        assert big / max(small, 1e-3) < 8, f"{name} {label}: {small:.3f}s for {len(short)} chars, {big:.3f}s for {len(s)}"


def _variant(name: str, **changes) -> tuple:
    spec = json.loads((GOLDEN / f"{name}.tokenizer.json").read_text(encoding="ascii"))
    spec.update(changes)
    text = json.dumps(spec)
    return tokenizers.Tokenizer.from_str(text), Tokenizer.from_str(text)


VARIANTS = {
    # "first" has no ids-only twin: offsets=False must fall back to the full path and still agree.
    "metaspace_first": ("llama_byte_fallback", {"normalizer": None, "pre_tokenizer": {
        "type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}}),
    "metaspace_no_split": ("xlmr_unigram", {"pre_tokenizer": {
        "type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False}}),
    "nmt_unigram": ("xlmr_unigram", {"normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Nmt"}, {"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}}),
    "byte_level_no_regex": ("roberta_bpe", {"pre_tokenizer": {
        "type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": False}}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_component_variants_equal_reference(variant, corpus):
    name, changes = VARIANTS[variant]
    ref, ours = _variant(name, **changes)
    texts = corpus[::11] + MULTILINGUAL
    for k, text in enumerate(texts):
        pair = texts[(k * 7 + 1) % len(texts)] if k % 3 == 0 else None
        want = _ref(ref, text, pair)
        assert _ours(ours, text, pair) == want, (variant, text, pair)
        fast = _ours(ours, text, pair, offsets=False)
        assert fast[:3] == want[:3] and fast[4:] == want[4:], (variant, text, pair)
        ids = want[0]
        assert ours.decode(ids) == ref.decode(ids), (variant, text)
