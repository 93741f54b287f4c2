"""Models: a pre-token's text -> [(id, token, start, end)] with offsets inside the piece.

``add_words(words, ids, tokens)`` is the ids-only fast path's entry: the same ids and tokens as
``tokenize`` on each word, appended to the two lists, without offsets.
"""

from __future__ import annotations

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.tokenizer import bpe, unigram
from edgepack.runtime.tokenizer._spec import Ctx


def _vocab(obj, ctx: Ctx) -> dict[str, int]:
    vocab = ctx.get(obj, "vocab", dict)
    for k, v in vocab.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ctx.at("vocab").error(f"id of {k!r} must be a non-negative integer, got {v!r}")
    return vocab


class WordLevel:
    def __init__(self, vocab: dict[str, int], unk_token: str | None):
        self.vocab = vocab
        self.unk_token = unk_token
        self.unk_id = vocab.get(unk_token) if unk_token is not None else None
        self.inv = {v: k for k, v in vocab.items()}

    def tokenize(self, text: str):
        i = self.vocab.get(text)
        if i is not None:
            return [(i, text, 0, len(text))]
        if self.unk_id is None:
            raise TokenizerSpecError(f"WordLevel: {text!r} is not in the vocabulary and unk_token "
                                     f"{self.unk_token!r} is not in it either; add the unk token to model.vocab")
        return [(self.unk_id, self.unk_token, 0, len(text))]

    def add_words(self, words: list[str], ids: list[int], tokens: list[str]) -> None:
        found = list(map(self.vocab.get, words))  # one C-level pass
        missing = found.count(None)
        base = len(ids)
        ids.extend(found)
        tokens.extend(words)
        if not missing:
            return
        if self.unk_id is None:
            self.tokenize(words[found.index(None)])  # raises tokenize's error
        k = -1
        for _ in range(missing):  # tokenize's answer for a word outside the vocabulary, in place
            k = found.index(None, k + 1)
            ids[base + k] = self.unk_id
            tokens[base + k] = self.unk_token


class WordPiece:
    def __init__(self, vocab, unk_token="[UNK]", continuing_subword_prefix="##", max_input_chars_per_word=100):
        self.vocab = vocab
        self.unk_token = unk_token
        self.prefix = continuing_subword_prefix
        self.max_chars = max_input_chars_per_word
        self.inv = {v: k for k, v in vocab.items()}
        # Longest possible piece bounds the greedy search (same answer, linear in word length).
        self.max_piece = max((len(k) for k in vocab), default=0)
        self._cache: dict[str, list[tuple[int, str]]] = {}

    def _unk(self, n):
        i = self.vocab.get(self.unk_token)
        if i is None:
            raise TokenizerSpecError(f"WordPiece: unk_token {self.unk_token!r} is not in model.vocab; add it")
        return [(i, self.unk_token, 0, n)]

    def tokenize(self, text: str):
        n = len(text)
        if n > self.max_chars:
            return self._unk(n)
        i = self.vocab.get(text)
        if i is not None:
            return [(i, text, 0, n)]
        vocab, prefix = self.vocab, self.prefix
        out = []
        start = 0
        while start < n:
            end = min(n, start + self.max_piece)
            found = None
            while start < end:
                sub = text[start:end] if start == 0 else prefix + text[start:end]
                i = vocab.get(sub)
                if i is not None:
                    found = (i, sub, start, end)
                    break
                end -= 1
            if found is None:
                return self._unk(n)
            out.append(found)
            start = end
        return out

    CACHE_SIZE = 10_000  # words split by the greedy search, remembered (cleared when full)

    def add_words(self, words: list[str], ids: list[int], tokens: list[str]) -> None:
        vocab, max_chars, cache = self.vocab, self.max_chars, self._cache
        for w in words:
            pieces = cache.get(w)
            if pieces is None:
                i = vocab.get(w) if len(w) <= max_chars else None
                if i is not None:  # whole word in the vocabulary: tokenize's first answer
                    ids.append(i)
                    tokens.append(w)
                    continue
                # Real text repeats its words, and the greedy search is the slow part: cache it.
                pieces = [(i, t) for i, t, _, _ in self.tokenize(w)]
                if len(cache) >= self.CACHE_SIZE:
                    cache.clear()
                cache[w] = pieces
            for i, t in pieces:
                ids.append(i)
                tokens.append(t)


SUPPORTED = ("WordLevel", "WordPiece", "BPE", "Unigram")


def from_spec(obj, ctx: Ctx):
    obj = ctx.obj(obj)
    t = ctx.type_of(obj, SUPPORTED)
    if t == "Unigram":
        return unigram.from_spec(obj, ctx)
    vocab = _vocab(obj, ctx)
    if t == "BPE":
        return bpe.from_spec(obj, ctx, vocab)
    if t == "WordLevel":
        return WordLevel(vocab, ctx.get(obj, "unk_token", str, None, nullable=True))
    return WordPiece(
        vocab,
        ctx.get(obj, "unk_token", str, "[UNK]"),
        ctx.get(obj, "continuing_subword_prefix", str, "##"),
        ctx.get(obj, "max_input_chars_per_word", int, 100),
    )
