"""Write the tokenizer golden files with the reference, Hugging Face `tokenizers` (test-only dependency).

Run:  .venv/bin/python scripts/make_golden.py
For every configuration below it writes tests/tokenizer/golden/<name>.tokenizer.json (the spec under test) and
tests/tokenizer/golden/<name>.jsonl: a header line stamped with the tokenizers version and the corpus hash, then one
line per case (corpus indices in, the reference's encodings out). Output is byte-stable: sorted keys,
ASCII escapes, single-threaded deterministic training. One runner per language reads these files:
tests/tokenizer/conformance.py (pytest, aarch64 emulation, Pyodide) and web/test/conformance.mjs (Node,
Chromium).
"""

from __future__ import annotations

import os

os.environ["RAYON_NUM_THREADS"] = "1"  # deterministic training -> byte-stable vocabularies
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import hashlib  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402

import tokenizers  # noqa: E402
from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers  # noqa: E402
from tokenizers.models import WordLevel, WordPiece  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests/tokenizer/golden"
CORPUS_FILE = ROOT / "tests/tokenizer/corpus.jsonl"
SAMPLE = ROOT / "samples/sentiment/tokenizer.json"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def load_corpus() -> list[str]:
    return [json.loads(line) for line in CORPUS_FILE.read_text(encoding="ascii").splitlines()]


def _wordpiece(corpus, normalizer, pre_tokenizer, vocab_size=3000):
    """A WordPiece vocabulary built deterministically (tokenizers' WordPieceTrainer breaks ties in
    hash order, so its vocabularies differ run to run): characters seen twice, then the most frequent
    words, word-initial pieces and ``##`` pieces, ties broken by the string."""
    from collections import Counter

    words = Counter()
    for text in corpus:
        for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            words[w] += 1
    chars, pieces = Counter(), Counter()
    for w, n in words.items():
        for k, c in enumerate(w):
            chars[c if k == 0 else "##" + c] += n
        for k in range(2, min(len(w), 6) + 1):
            pieces[w[:k]] += n
            pieces["##" + w[-k:]] += n
    vocab = list(SPECIALS)
    seen = set(vocab)

    def take(counter, limit, min_count):
        for tok, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])):
            if len(vocab) >= limit or n < min_count:
                break
            if tok not in seen:
                seen.add(tok)
                vocab.append(tok)

    take(chars, vocab_size // 3, 2)
    take(words, vocab_size * 2 // 3, 2)
    take(pieces, vocab_size, 3)
    tok = Tokenizer(WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.add_special_tokens(SPECIALS)
    tok.decoder = decoders.WordPiece()
    return tok


def _wordlevel(corpus, normalizer, pre_tokenizer):
    tok = Tokenizer(WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(vocab_size=3000, min_frequency=2, special_tokens=SPECIALS,
                                                              show_progress=False))
    return tok


def _bert(tok):
    return processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))


def configs(corpus):
    """name -> (reference tokenizer, options). Options: pairs, batch, no_special."""
    out = {}
    if SAMPLE.exists():
        sample = Tokenizer.from_file(str(SAMPLE))
    else:  # equivalent of the sample's word-level tokenizer
        sample = _wordlevel(corpus, normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]),
                            pre_tokenizers.BertPreTokenizer())
        sample.enable_padding(pad_id=0, pad_token="[PAD]")
        sample.enable_truncation(64)
    out["sample_wordlevel"] = (sample, {"batch": True})

    uncased = _wordpiece(corpus, normalizers.BertNormalizer(), pre_tokenizers.BertPreTokenizer())
    uncased.post_processor = _bert(uncased)
    out["bert_uncased"] = (uncased, {"pairs": True, "no_special": True})

    cased = _wordpiece(corpus, normalizers.BertNormalizer(lowercase=False), pre_tokenizers.BertPreTokenizer())
    cased.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cased.token_to_id("[CLS]")), ("[SEP]", cased.token_to_id("[SEP]"))])
    out["bert_cased"] = (cased, {"pairs": True})

    mix_norm = normalizers.Sequence([
        normalizers.Strip(), normalizers.Replace("``", '"'), normalizers.NFD(), normalizers.StripAccents(),
        normalizers.NFC(), normalizers.Lowercase()])
    tpl = _wordpiece(corpus, mix_norm, pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                                pre_tokenizers.Digits(individual_digits=True)]))
    tpl.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    tpl.add_tokens([AddedToken("hello world", normalized=True), AddedToken("tok", single_word=True)])
    tpl.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tpl.token_to_id("[CLS]")), ("[SEP]", tpl.token_to_id("[SEP]"))])
    out["template_pairs"] = (tpl, {"pairs": True, "no_special": True})

    pad = Tokenizer.from_str(uncased.to_str())
    pad.enable_truncation(24)
    pad.enable_padding(direction="left", pad_id=0, pad_token="[PAD]", pad_to_multiple_of=8)
    out["pad_trunc"] = (pad, {"pairs": True, "batch": True, "no_special": True})

    pad2 = Tokenizer.from_str(cased.to_str())
    pad2.enable_truncation(16, strategy="only_first", direction="left")
    pad2.enable_padding(length=20, pad_id=0, pad_type_id=1, pad_token="[PAD]")
    out["pad_trunc_fixed"] = (pad2, {"pairs": True, "batch": True})

    nfkd = _wordlevel(corpus, normalizers.Sequence([normalizers.NFKD(), normalizers.Lowercase()]),
                      pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                               pre_tokenizers.Punctuation("contiguous"),
                                               pre_tokenizers.Digits(individual_digits=False)]))
    out["nfkd_contiguous"] = (nfkd, {})

    merged = _wordlevel(corpus, normalizers.Sequence([normalizers.NFKC(), normalizers.Strip(left=False)]),
                        pre_tokenizers.Sequence([pre_tokenizers.Punctuation("merged_with_previous"),
                                                 pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Punctuation("merged_with_next")]))
    out["merged_punct"] = (merged, {})

    # Added tokens of every flavour, Replace with a multi-char pattern, Strip on one side only.
    added = _wordlevel(corpus, normalizers.Sequence([normalizers.Replace("ab", "x"), normalizers.Strip(right=False),
                                                     normalizers.NFKC(), normalizers.Lowercase()]),
                       pre_tokenizers.Whitespace())
    added.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=True, special=True),
                              AddedToken("<s>", rstrip=True, special=True)])
    added.add_tokens([AddedToken("New York", normalized=True), AddedToken("fox", single_word=True),
                      AddedToken("Café", normalized=False, lstrip=True), AddedToken("!!", normalized=True)])
    out["added_tokens"] = (added, {"pairs": True, "no_special": True})
    # byte-level BPE, Unigram + Precompiled, byte fallback (needs the `sentencepiece` package)
    import golden_modern

    out.update(golden_modern.configs(corpus))
    return out


def cases(n: int, opts: dict):
    """[(inputs [(i, j|None)], batch, add_special_tokens)] -- deterministic."""
    out = [([(i, None)], False, True) for i in range(n)]
    if opts.get("pairs"):
        out += [([(i, (i * 7 + 3) % n)], False, True) for i in range(0, n, 3)]
    if opts.get("no_special"):
        out += [([(i, (i * 5 + 1) % n if i % 20 else None)], False, False) for i in range(0, n, 10)]
    if opts.get("batch"):
        for b in range(0, n, 40):
            inputs = [(k, (k * 3 + 2) % n if opts.get("pairs") and k % 2 else None) for k in range(b, min(n, b + 8))]
            out.append((inputs, True, True))
    return out


def as_dict(e) -> dict:
    return {"ids": e.ids, "attention_mask": e.attention_mask, "token_type_ids": e.type_ids,
            "special_tokens_mask": e.special_tokens_mask, "tokens": e.tokens, "offsets": [list(o) for o in e.offsets]}


def run_case(tok, corpus, inputs, batch, add_special):
    try:
        if batch:
            items = [corpus[i] if j is None else (corpus[i], corpus[j]) for i, j in inputs]
            return {"outputs": [as_dict(e) for e in tok.encode_batch(items, add_special_tokens=add_special)]}
        (i, j), = inputs
        e = tok.encode(corpus[i], corpus[j] if j is not None else None, add_special_tokens=add_special)
        return {"outputs": [as_dict(e)]}
    except Exception as exc:  # the reference refusing is part of the contract too
        return {"error": {"kind": error_kind(exc), "reference": f"{type(exc).__name__}: {exc}"}}


# The reference's refusals by kind. A golden error case passes only when the implementation under test
# refuses with the same kind (tests/tokenizer/conformance.py, web/test/conformance.mjs), so a message
# that fits no kind stops generation: name it here before it becomes part of the contract.
REFERENCE_ERRORS = {"truncation": re.compile(r"^Truncation error: ")}


def error_kind(exc: Exception) -> str:
    for kind, pattern in REFERENCE_ERRORS.items():
        if pattern.match(str(exc)):
            return kind
    raise SystemExit(f"make_golden: the reference raised {type(exc).__name__}: {exc}; "
                     "add its kind to REFERENCE_ERRORS (and to the runners' IMPLEMENTATION_ERRORS)")


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def main():
    corpus = load_corpus()
    corpus_sha = hashlib.sha256(CORPUS_FILE.read_bytes()).hexdigest()
    GOLDEN.mkdir(exist_ok=True)
    for name, (tok, opts) in configs(corpus).items():
        spec = json.loads(tok.to_str())
        (GOLDEN / f"{name}.tokenizer.json").write_text(json.dumps(spec, sort_keys=True, ensure_ascii=True, indent=1)
                                                       + "\n", encoding="ascii")
        lines = [dumps({"config": name, "tokenizers": tokenizers.__version__, "corpus_sha256": corpus_sha,
                        "tokenizer": f"{name}.tokenizer.json"})]
        for inputs, batch, add_special in cases(len(corpus), opts):
            rec = {"inputs": [list(x) for x in inputs], "batch": batch, "add_special_tokens": add_special}
            rec.update(run_case(tok, corpus, inputs, batch, add_special))
            lines.append(dumps(rec))
        tmp = GOLDEN / f".{name}.jsonl.tmp"
        tmp.write_text("\n".join(lines) + "\n", encoding="ascii")
        tmp.replace(GOLDEN / f"{name}.jsonl")
        print(f"{name}: {len(lines) - 1} cases")


if __name__ == "__main__":
    main()
