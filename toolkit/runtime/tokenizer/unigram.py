"""Unigram model (SentencePiece: XLM-R, ALBERT, T5): the best-scoring segmentation, by Viterbi.

Follows tokenizers' ``encode_optimized``: best path per end position, candidates from a prefix
walk over the vocabulary, a character no piece covers becomes ``unk`` scored ``min score - 10``,
consecutive unknown pieces fuse into one token (whose text is the original text, id ``unk_id``).
Ties keep the first candidate found (shorter pieces first, earlier starts first).
"""

from __future__ import annotations

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.tokenizer._spec import Ctx

UNK_PENALTY = 10.0
_END = ""  # trie key holding a node's piece id


class Unigram:
    CACHE_SIZE = 10_000
    CACHE_WORD = 256

    def __init__(self, pieces: list[tuple[str, float]], unk_id: int | None, byte_fallback: bool):
        self.pieces = pieces
        self.vocab = {}
        for i, (p, _) in enumerate(pieces):
            self.vocab[p] = i  # a repeated piece: the last id wins, as the reference's map keeps it
        self.inv = {i: p for i, (p, _) in enumerate(pieces)}
        self.unk_id = unk_id
        self.byte_fallback = byte_fallback
        self.unk_score = (min(s for _, s in pieces) if pieces else 0.0) - UNK_PENALTY
        self.trie: dict = {}
        for p in self.vocab:
            if not p:
                continue  # the reference's trie never yields the empty piece
            node = self.trie
            for c in p:
                node = node.setdefault(c, {})
            node[_END] = True
        self._cache: dict[str, list[tuple[int, str, int, int]]] = {}

    def _best(self, text: str) -> list[tuple[int, int]]:
        n = len(text)
        vocab, pieces, trie, unk_score = self.vocab, self.pieces, self.trie, self.unk_score
        score = [0.0] * (n + 1)
        start = [-1] * (n + 1)
        ident = [0] * (n + 1)
        for s in range(n):
            here = score[s]
            node = trie
            single = False
            k = s
            # Prefix walk: time is n x the longest piece, never n squared.
            while k < n:
                node = node.get(text[k])
                if node is None:
                    break
                k += 1
                if _END in node:
                    cand = here + pieces[vocab[text[s:k]]][1]
                    if start[k] < 0 or cand > score[k]:
                        score[k], start[k], ident[k] = cand, s, vocab[text[s:k]]
                    if k == s + 1:
                        single = True
            if not single:
                if self.unk_id is None:
                    raise TokenizerSpecError(f"Unigram: {text[s]!r} is not covered by model.vocab and model.unk_id "
                                             "is null; set unk_id")
                cand = here + unk_score
                if start[s + 1] < 0 or cand > score[s + 1]:
                    score[s + 1], start[s + 1], ident[s + 1] = cand, s, self.unk_id
        out: list[tuple[int, int]] = []
        e = n
        unk_end = -1
        while e > 0:
            s = start[e]
            if ident[e] == self.unk_id:
                if unk_end < 0:
                    unk_end = e
            else:
                if unk_end >= 0:
                    out.append((e, unk_end))
                    unk_end = -1
                out.append((s, e))
            e = s
        if unk_end >= 0:
            out.append((0, unk_end))
        out.reverse()
        return out

    def _tokens(self, text: str) -> list[tuple[int, str, int, int]]:
        got = self._cache.get(text)
        if got is not None:
            return got
        out = []
        vocab = self.vocab
        for s, e in self._best(text):
            piece = text[s:e]
            i = vocab.get(piece)
            if i is None:
                if self.byte_fallback:
                    ids = [vocab.get(f"<0x{b:02X}>") for b in piece.encode("utf-8", "surrogatepass")]
                    if None not in ids:
                        out.extend((b, f"<0x{piece.encode('utf-8', 'surrogatepass')[k]:02X}>", s, e)
                                   for k, b in enumerate(ids))
                        continue
                i = self.unk_id
            out.append((i, piece, s, e))
        if len(text) <= self.CACHE_WORD:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[text] = out
        return out

    def tokenize(self, text: str):
        return self._tokens(text) if text else []

    def add_words(self, words: list[str], ids: list[int], tokens: list[str]) -> None:
        for w in words:
            if w:
                for i, t, _, _ in self._tokens(w):
                    ids.append(i)
                    tokens.append(t)


def from_spec(obj: dict, ctx: Ctx) -> Unigram:
    vctx = ctx.at("vocab")
    pieces = []
    for k, entry in enumerate(ctx.get(obj, "vocab", list)):
        if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str)
                or not isinstance(entry[1], (int, float)) or isinstance(entry[1], bool)):
            raise vctx.at(k).error("expected [piece, score] (a string and a number)")
        pieces.append((entry[0], float(entry[1])))
    unk_id = ctx.get(obj, "unk_id", int, None, nullable=True)
    if unk_id is not None and not 0 <= unk_id < len(pieces):
        raise ctx.at("unk_id").error(f"{unk_id} is not an index of model.vocab ({len(pieces)} pieces)")
    return Unigram(pieces, unk_id, ctx.get(obj, "byte_fallback", bool, False, nullable=True) or False)
