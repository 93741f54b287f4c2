"""Tokenizer API, refusals, bad input, linear time -- and the known divergences from the reference."""

from __future__ import annotations

import copy
import json
import time

import pytest
from tests.tokenizer.golden_support import GOLDEN

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.tokenizer import Encoding, Tokenizer

tokenizers = pytest.importorskip("tokenizers")

UNCASED = GOLDEN / "bert_uncased.tokenizer.json"


@pytest.fixture()
def spec() -> dict:
    return json.loads(UNCASED.read_text(encoding="utf-8"))


@pytest.fixture()
def pair():
    return Tokenizer.from_file(UNCASED), tokenizers.Tokenizer.from_file(str(UNCASED))


def _as_tuple(e):
    return (e.ids, e.type_ids, e.tokens, [tuple(o) for o in e.offsets], e.attention_mask, e.special_tokens_mask)


def test_constructors_agree(spec):
    text = "Hello, wörld!"
    a = Tokenizer.from_file(UNCASED).encode(text)
    b = Tokenizer.from_str(UNCASED.read_text(encoding="utf-8")).encode(text)
    c = Tokenizer.from_dict(spec).encode(text)
    assert isinstance(a, Encoding) and a.ids == b.ids == c.ids and len(a) == len(a.ids) > 2


def test_vocab_and_decode_match_reference(pair):
    ours, ref = pair
    assert ours.get_vocab_size() == ref.get_vocab_size()
    for token in ("[CLS]", "the", "##ing", "not-a-token"):
        assert ours.token_to_id(token) == ref.token_to_id(token)
    for i in (0, 2, 50, 10**6):
        assert ours.id_to_token(i) == ref.id_to_token(i)
    for text in ("Hello, world! don't stop", "I'm ok ,isn't it ?", "naïve café 日本"):
        ids = ref.encode(text).ids
        for skip in (True, False):
            assert ours.decode(ids, skip_special_tokens=skip) == ref.decode(ids, skip_special_tokens=skip)
    assert ours.decode([10**6, 2]) == ref.decode([10**6, 2])


def test_padding_and_truncation_api_matches_reference(pair):
    ours, ref = pair
    assert ours.padding is None and ours.truncation is None
    batch = ["short", ("a much longer first sentence with many words in it", "and a pair"), "mid size text here"]
    for kw_pad, kw_trunc in [
        (dict(), dict(max_length=8)),
        (dict(direction="left", pad_id=3, pad_type_id=1, pad_token="[MASK]", pad_to_multiple_of=4),
         dict(max_length=12, strategy="only_first", direction="left")),
        (dict(length=16), dict(max_length=10, strategy="longest_first", stride=2)),
    ]:
        ours.enable_padding(**kw_pad)
        ref.enable_padding(**kw_pad)
        ours.enable_truncation(**kw_trunc)
        ref.enable_truncation(**kw_trunc)
        assert [_as_tuple(e) for e in ours.encode_batch(batch)] == [_as_tuple(e) for e in ref.encode_batch(batch)]
        assert _as_tuple(ours.encode("x y z", "q")) == _as_tuple(ref.encode("x y z", "q"))
    assert ours.truncation == {"direction": "Right", "max_length": 10, "strategy": "LongestFirst", "stride": 2}
    assert ours.padding["strategy"] == {"Fixed": 16}
    ours.no_padding()
    ours.no_truncation()
    assert ours.padding is None and ours.truncation is None
    with pytest.raises(TokenizerSpecError, match="stride 9 is greater than the effective max length 6"):
        ours.enable_truncation(8, stride=9)
    with pytest.raises(TokenizerSpecError, match="strategy 'middle'"):
        ours.enable_truncation(8, strategy="middle")


def test_only_second_without_pair_is_refused_like_reference(pair):
    ours, ref = pair
    ours.enable_truncation(4, strategy="only_second")
    ref.enable_truncation(4, strategy="only_second")
    with pytest.raises(Exception):
        ref.encode("one two three four five")
    with pytest.raises(TokenizerSpecError, match="OnlySecond needs a pair"):
        ours.encode("one two three four five")


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s.update(version="2.0"), 'tokenizer.json: version "2.0" is not supported; supported: "1.0"'),
    (lambda s: s.pop("version"), "tokenizer.json: version is missing; supported: \"1.0\""),
    (lambda s: s.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
                                                                             {"type": "UnicodeScripts"}]}),
     'tokenizer.json: pre_tokenizer.pretokenizers[1].type "UnicodeScripts" is not supported; supported: Whitespace, '
     "WhitespaceSplit, BertPreTokenizer, Punctuation, Digits, Split, ByteLevel, Metaspace, Sequence"),
    (lambda s: s["model"].update(type="BPE", dropout=0.1, merges=[]), "model.dropout: must be null"),
    (lambda s: s["model"].update(type="BPE", merges=[["##a", "zzz"]]),
     "model.merges[0]: 'zzz' is not in model.vocab"),
    (lambda s: s.update(model={"type": "Unigram", "vocab": [["a", "high"]]}),
     "model.vocab[0]: expected [piece, score]"),
    (lambda s: s.update(normalizer={"type": "Sequence", "normalizers": [{"type": "Precompiled"}]}),
     "normalizer.normalizers[0].precompiled_charsmap is empty"),
    (lambda s: s.update(normalizer={"type": "Precompiled", "precompiled_charsmap": "AAAA!"}),
     "normalizer.precompiled_charsmap is not valid base64"),
    (lambda s: s.update(normalizer={"type": "Precompiled", "precompiled_charsmap": "/////wAA"}),
     "normalizer.precompiled_charsmap: declares a trie of 4294967295 bytes"),
    (lambda s: s.update(normalizer={"type": "Replace", "pattern": {"Regex": "(?<=a)b"}, "content": ""}),
     "normalizer.pattern.Regex: regex '(?<=a)b': the group '(?<=' (lookbehind"),
    (lambda s: s.update(pre_tokenizer={"type": "Split", "pattern": {"Regex": r"\p{Greek}"}, "behavior": "Isolated"}),
     "pre_tokenizer.pattern.Regex: regex '\\\\p{Greek}': the class"),
    (lambda s: s.update(pre_tokenizer={"type": "Split", "pattern": {"Regex": r"(a)\1"}, "behavior": "Isolated"}),
     "backreferences is not supported"),
    (lambda s: s.update(pre_tokenizer={"type": "Metaspace", "prepend_scheme": "sometimes"}),
     'pre_tokenizer.prepend_scheme "sometimes" is not supported; supported: always, first, never'),
    (lambda s: s.update(post_processor={"type": "RobertaProcessing", "sep": "</s>"}),
     "post_processor.sep: expected an array, got a string"),
    (lambda s: s.update(decoder={"type": "CTC"}), 'decoder.type "CTC" is not supported; supported: WordPiece, ByteLevel'),
    (lambda s: s.update(normalizer={"type": "ByteLevel"}), 'normalizer.type "ByteLevel" is not supported'),
    (lambda s: s.update(padding={"strategy": "Longest"}), "padding.strategy: 'Longest' is not supported"),
    (lambda s: s.update(truncation={"max_length": 8, "strategy": "Middle"}), 'truncation.strategy "Middle"'),
    (lambda s: s["model"].update(max_input_chars_per_word="100"),
     "model.max_input_chars_per_word: expected an integer, got a string"),
    (lambda s: s["model"]["vocab"].update(bad=-1), "model.vocab: id of 'bad' must be a non-negative integer"),
    (lambda s: s["added_tokens"][0].pop("content"), "added_tokens[0].content is required"),
])
def test_refusals_name_the_json_path(spec, mutate, message):
    spec = copy.deepcopy(spec)
    mutate(spec)
    with pytest.raises(TokenizerSpecError) as err:
        Tokenizer.from_dict(spec)
    assert message in str(err.value)


def test_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"version": "1.0", "x": "\xff"}')
    with pytest.raises(TokenizerSpecError, match=r"bad\.json: not valid UTF-8 \(byte 25: invalid start byte\)"):
        Tokenizer.from_file(bad)
    bad.write_text('{"version": ', encoding="utf-8")
    with pytest.raises(TokenizerSpecError, match=r"bad\.json: not valid JSON \(line 1"):
        Tokenizer.from_file(bad)
    with pytest.raises(TokenizerSpecError, match="cannot read tokenizer file"):
        Tokenizer.from_file(tmp_path / "missing.json")
    # A UTF-8 byte-order mark is tolerated (the rest must be valid UTF-8).
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + UNCASED.read_bytes())
    assert Tokenizer.from_file(bom).encode("hi").ids == Tokenizer.from_file(UNCASED).encode("hi").ids


def test_lone_surrogates_become_replacement_characters(pair):
    ours, ref = pair
    for text in ("\ud800", "a\udc00b", "x \ud83d y", "\ud83d\ude00"):
        replaced = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
        assert _as_tuple(ours.encode(text)) == _as_tuple(ours.encode(replaced))
        assert len(ours.encode(text).offsets) >= 2
        # Divergence (documented): the reference cannot take surrogates at all.
        with pytest.raises(Exception):
            ref.encode(text)


def test_linear_time_on_one_million_characters():
    tok = Tokenizer.from_file(UNCASED)
    unit = "The quick brown fox, naïve café 日本語 👍🏽 jumps!! 12345 "

    def best(n):
        # CPU time of this process: other jobs on a shared CI machine do not count.
        text = (unit * (n // len(unit) + 1))[:n]
        t0 = time.process_time()
        tok.encode(text)
        return time.process_time() - t0

    small, big = best(250_000), best(1_000_000)
    # 4x the input: linear ~4x, quadratic ~16x. A generous bound for noisy CI machines.
    assert big / small < 9, f"1M chars took {big / small:.1f}x the time of 250k"


def test_encoding_to_dict_is_the_cli_form():
    e = Tokenizer.from_file(UNCASED).encode("hi there", "you")
    d = e.to_dict()
    assert list(d) == ["ids", "attention_mask", "token_type_ids", "special_tokens_mask", "tokens", "offsets"]
    assert d["token_type_ids"][-1] == 1 and d["offsets"][0] == [0, 0]


def test_runs_on_the_standard_library_alone():
    """The tokenizer must work on a Pi and under Pyodide: no numpy, onnxruntime, click or tokenizers."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for m in ('numpy', 'onnxruntime', 'onnx', 'torch', 'click', 'tokenizers'): sys.modules[m] = None\n"
        "from edgepack.runtime.tokenizer import Tokenizer\n"
        f"t = Tokenizer.from_file({str(UNCASED)!r})\n"
        "print(t.encode('Hello, world!').tokens)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "'[CLS]'" in out.stdout


def test_every_sample_tokenizer_matches_the_reference(corpus):
    """The samples' own tokenizer.json files (not only the golden copy) run the same here and in tokenizers."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "samples"
    specs = sorted(root.glob("*/tokenizer.json"))
    if not specs:
        pytest.skip("no sample tokenizer.json in this checkout")
    for spec in specs:
        ours, ref = Tokenizer.from_file(spec), tokenizers.Tokenizer.from_file(str(spec))
        batch = corpus[:: max(1, len(corpus) // 400)]
        assert [_as_tuple(e) for e in ours.encode_batch(batch)] == [_as_tuple(e) for e in ref.encode_batch(batch)], spec
