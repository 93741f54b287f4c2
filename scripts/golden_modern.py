"""Golden configurations for the byte-level BPE, Unigram and byte-fallback tokenizers (issue 14).

scripts/make_golden.py writes these with the others (``python scripts/make_golden.py``).

The XLM-R-style configuration carries a real SentencePiece charsmap: a Unigram model is trained
here with the `sentencepiece` package (test/dev dependency; default nmt_nfkc rules), and its
pieces, scores and precompiled_charsmap are read from the .model file (a protobuf, parsed below:
no protobuf dependency).
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections import Counter

os.environ["RAYON_NUM_THREADS"] = "1"  # deterministic training -> byte-stable vocabularies
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors  # noqa: E402

ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def train_bpe(words: Counter, alphabet: list[str], specials: list[str], vocab_size: int):
    """A BPE vocabulary and merges, deterministically: tokenizers' BpeTrainer breaks ties between
    equally frequent pairs in hash order, so its merges differ run to run. Here the most frequent
    pair wins, ties broken by the pair itself. Characters outside ``alphabet`` stay unmerged."""
    vocab = list(specials) + [c for c in alphabet if c not in specials]
    known = set(vocab)
    seqs = [list(w) for w in words]
    counts = [words[w] for w in words]
    pairs: Counter = Counter()
    where: dict[tuple[str, str], set[int]] = {}
    for k, seq in enumerate(seqs):
        for a, b in zip(seq, seq[1:]):
            if a in known and b in known:
                pairs[(a, b)] += counts[k]
                where.setdefault((a, b), set()).add(k)
    merges = []
    while len(vocab) < vocab_size and pairs:
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        a, b = best
        merged = a + b
        merges.append((a, b))
        if merged not in known:
            known.add(merged)
            vocab.append(merged)
        for k in sorted(where.pop(best, ())):
            seq, n = seqs[k], counts[k]
            for x, y in zip(seq, seq[1:]):  # this word's pairs, taken out and counted again below
                if x in known and y in known and (x, y) in pairs:
                    pairs[(x, y)] -= n
                    if pairs[(x, y)] <= 0:
                        del pairs[(x, y)]
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[k] = out
            for x, y in zip(out, out[1:]):
                if x in known and y in known:
                    pairs[(x, y)] += n
                    where.setdefault((x, y), set()).add(k)
        pairs.pop(best, None)
    return {t: i for i, t in enumerate(vocab)}, merges


def _byte_level_bpe(corpus, pre, specials, vocab_size, **kwargs) -> Tokenizer:
    words = Counter(w for text in corpus for w, _ in pre.pre_tokenize_str(text))
    vocab, merges = train_bpe(words, sorted(pre_tokenizers.ByteLevel.alphabet()), specials, vocab_size)
    tok = Tokenizer(models.BPE(vocab, merges, **kwargs))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    return tok


def roberta(corpus) -> Tokenizer:
    tok = _byte_level_bpe(corpus, pre_tokenizers.ByteLevel(add_prefix_space=True), ROBERTA_SPECIALS, 2000)
    tok.add_special_tokens(ROBERTA_SPECIALS + [AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=True)
    tok.enable_truncation(48)
    tok.enable_padding(pad_id=tok.token_to_id("<pad>"), pad_token="<pad>")
    return tok


def gpt2(corpus) -> Tokenizer:
    # ignore_merges, as newer GPT-style files set it: a word found whole in the vocabulary is one token.
    tok = _byte_level_bpe(corpus, pre_tokenizers.ByteLevel(add_prefix_space=False), ["<|endoftext|>"], 1500,
                          ignore_merges=True)
    tok.add_special_tokens(["<|endoftext|>"])
    return tok


# Llama-3 / GPT-4-style pre-tokenization: a Split regex (with a case-insensitive group), then ByteLevel
# without its own regex.
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                  r"|\s+(?!\S)|\s+")


def llama3(corpus) -> Tokenizer:
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_PATTERN), "isolated"),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = _byte_level_bpe(corpus, pre, ["<|begin_of_text|>"], 1500, ignore_merges=True)
    tok.add_special_tokens(["<|begin_of_text|>"])
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", 0)])])
    return tok


def llama(corpus) -> Tokenizer:
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    # No pre-tokenizer: each text is one word, as Llama's tokenizer.json has it.
    words = Counter(normalizer.normalize_str(t) for t in corpus if t)
    chars = Counter(c for w, n in words.items() for c in w for _ in range(n))
    # A small alphabet: rarer characters go through byte_fallback, as in Llama's 32k vocabulary.
    alphabet = sorted(c for c, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))[:150])
    vocab, merges = train_bpe(words, alphabet, ["<unk>", "<s>", "</s>"] + bytes_, 1500)
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizer
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s>:1 $B:1",
                                                       special_tokens=[("<s>", tok.token_to_id("<s>"))])
    tok.enable_truncation(32, direction="left")
    tok.enable_padding(direction="left", pad_id=0, pad_token="<unk>")
    return tok


def _fields(buf: bytes):
    """(field number, wire type, value) of one protobuf message; lengths as bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield field, wire, value


def _varint(buf: bytes, i: int):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def xlmr(corpus) -> Tokenizer:
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        prefix = pathlib.Path(tmp) / "spm"
        text = pathlib.Path(tmp) / "corpus.txt"
        text.write_text("\n".join(t.replace("\n", " ") for t in corpus if t.strip()), encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(text), model_prefix=str(prefix), model_type="unigram", vocab_size=700, hard_vocab_limit=False,
            bos_id=0, pad_id=1, eos_id=2, unk_id=3, num_threads=1, minloglevel=2,
            character_coverage=0.995, normalization_rule_name="nmt_nfkc", input_sentence_size=0,
            shuffle_input_sentence=False, seed_sentencepiece_size=100000)
        proto = (prefix.with_suffix(".model")).read_bytes()
    sp = spm.SentencePieceProcessor(model_proto=proto)
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    normalizer_spec = next(v for f, w, v in _fields(proto) if f == 3 and w == 2)
    charsmap = next(v for f, w, v in _fields(normalizer_spec) if f == 2 and w == 2)
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(charsmap), normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "\u2581")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.enable_truncation(40)
    tok.enable_padding(pad_id=1, pad_token="<pad>", pad_to_multiple_of=8)
    return tok


def configs(corpus):
    """name -> (reference tokenizer, options), as make_golden.configs."""
    return {
        "roberta_bpe": (roberta(corpus), {"pairs": True, "batch": True, "no_special": True}),
        "gpt2_bpe": (gpt2(corpus), {"pairs": True, "no_special": True}),
        "llama_byte_fallback": (llama(corpus), {"pairs": True, "batch": True, "no_special": True}),
        "llama3_split_bpe": (llama3(corpus), {"pairs": True}),
        "xlmr_unigram": (xlmr(corpus), {"pairs": True, "batch": True, "no_special": True}),
    }
