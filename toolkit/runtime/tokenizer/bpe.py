"""BPE model (GPT-2, RoBERTa, Llama): characters, then merges by rank, as tokenizers' BPE does.

Offsets are character indices inside the word. A byte token (``<0xE6>``, byte_fallback) covers the
whole character it is a byte of: the reference reports it so (its byte offsets widen to the
character when they go back to the original text).
"""

from __future__ import annotations

import heapq

from edgepack.runtime.tokenizer._spec import Ctx

_BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]


class BPE:
    CACHE_SIZE = 10_000  # words remembered (cleared when full): real text repeats its words
    CACHE_WORD = 256  # longer words are not cached (one hostile word must not pin memory)

    def __init__(self, vocab: dict[str, int], merges: dict[int, tuple[int, int]], unk_token=None,
                 continuing_subword_prefix=None, end_of_word_suffix=None, fuse_unk=False, byte_fallback=False,
                 ignore_merges=False):
        self.vocab = vocab
        self.inv = {v: k for k, v in vocab.items()}
        self.merges = merges  # left id << 32 | right id -> (rank, merged id); an int key hashes faster than a tuple
        self.unk_token = unk_token
        self.prefix = continuing_subword_prefix
        self.suffix = end_of_word_suffix
        self.fuse_unk = fuse_unk
        self.byte_fallback = byte_fallback
        self.ignore_merges = ignore_merges
        self._cache: dict[str, list[tuple[int, int, int]]] = {}

    def _unk_id(self) -> int:
        i = self.vocab.get(self.unk_token)
        if i is None:
            from edgepack.errors import TokenizerSpecError
            raise TokenizerSpecError(f"BPE: unk_token {self.unk_token!r} is not in model.vocab; add it")
        return i

    def _symbols(self, word: str) -> list[list[int]]:
        """[id, start, end] per initial symbol (characters, byte tokens, unk), HF's merge_word."""
        vocab, prefix, suffix = self.vocab, self.prefix, self.suffix
        out: list[list[int]] = []
        unk: list[int] | None = None
        last = len(word) - 1
        for k, c in enumerate(word):
            s = c
            if k and prefix is not None:
                s = prefix + s
            if k == last and suffix is not None:
                s = s + suffix
            i = vocab.get(s)
            if i is not None:
                if unk is not None:
                    out.append(unk)
                    unk = None
                out.append([i, k, k + 1])
                continue
            if self.byte_fallback:
                ids = [vocab.get(_BYTE_TOKENS[b]) for b in s.encode("utf-8", "surrogatepass")]
                if None not in ids:
                    # HF keeps a pending unk pending across byte tokens (it is flushed later).
                    out.extend([b, k, k + 1] for b in ids)
                    continue
            if self.unk_token is None:
                continue  # the reference drops the character
            if unk is not None and self.fuse_unk:
                unk[2] = k + 1
            else:
                if unk is not None:
                    out.append(unk)
                unk = [self._unk_id(), k, k + 1]
        if unk is not None:
            out.append(unk)
        return out

    def _merge(self, word: str) -> list[tuple[int, int, int]]:
        if self.ignore_merges:
            i = self.vocab.get(word)
            if i is not None:
                return [(i, 0, len(word))]
        sym = self._symbols(word)
        n = len(sym)
        if n < 2:
            return [tuple(s) for s in sym]
        get = self.merges.get
        ids = [s[0] for s in sym]
        starts = [s[1] for s in sym]
        ends = [s[2] for s in sym]
        nxt = list(range(1, n + 1))
        nxt[-1] = -1
        prv = list(range(-1, n - 1))
        alive = [True] * n
        heap = []
        for p in range(n - 1):
            m = get(ids[p] << 32 | ids[p + 1])
            if m is not None:
                heap.append((m[0], p, m[1]))
        heapq.heapify(heap)
        pop, push = heapq.heappop, heapq.heappush  # bound once: a long word runs this loop n times
        # Lowest rank first, leftmost on ties; stale entries are skipped when popped (HF's queue).
        while heap:
            rank, p, new_id = pop(heap)
            if not alive[p]:
                continue
            q = nxt[p]
            if q < 0:
                continue
            m = get(ids[p] << 32 | ids[q])
            if m is None or m[1] != new_id:
                continue
            ids[p] = new_id
            ends[p] = ends[q]
            alive[q] = False
            r = nxt[q]
            nxt[p] = r
            if r >= 0:
                prv[r] = p
            a = prv[p]
            if a >= 0:
                m = get(ids[a] << 32 | new_id)
                if m is not None:
                    push(heap, (m[0], a, m[1]))
            if r >= 0:
                m = get(new_id << 32 | ids[r])
                if m is not None:
                    push(heap, (m[0], p, m[1]))
        out = []
        p = 0
        while p >= 0:
            out.append((ids[p], starts[p], ends[p]))
            p = nxt[p]
        return out

    def _pieces(self, word: str):
        cache = self._cache
        got = cache.get(word)
        if got is None:
            got = self._merge(word)
            if len(word) <= self.CACHE_WORD:
                if len(cache) >= self.CACHE_SIZE:
                    cache.clear()
                cache[word] = got
        return got

    def tokenize(self, text: str):
        inv = self.inv
        return [(i, inv[i], s, e) for i, s, e in self._pieces(text)]

    def add_words(self, words: list[str], ids: list[int], tokens: list[str]) -> None:
        inv, pieces = self.inv, self._pieces
        for w in words:
            for i, _, _ in pieces(w):
                ids.append(i)
                tokens.append(inv[i])


def from_spec(obj: dict, ctx: Ctx, vocab: dict[str, int]) -> BPE:
    if ctx.get(obj, "dropout", (int, float), None, nullable=True) not in (None, 0):
        raise ctx.at("dropout").error("must be null: dropout makes encoding random (it is for training)")
    prefix = ctx.get(obj, "continuing_subword_prefix", str, None, nullable=True)
    mctx = ctx.at("merges")
    merges: dict[int, tuple[int, int]] = {}
    cut = len(prefix) if prefix else 0
    for rank, m in enumerate(ctx.get(obj, "merges", list, [])):
        c = mctx.at(rank)
        if isinstance(m, str):
            parts = m.split(" ")
        elif isinstance(m, list) and all(isinstance(x, str) for x in m):
            parts = m
        else:
            raise c.error('expected "left right" or ["left", "right"]')
        if len(parts) != 2:
            raise c.error(f"{m!r} must have exactly two parts")
        a, b = parts
        merged = a + b[cut:]
        for t in (a, b, merged):
            if t not in vocab:
                raise c.error(f"{t!r} is not in model.vocab; every merge's parts and result must be")
        merges[vocab[a] << 32 | vocab[b]] = (rank, vocab[merged])  # a repeated pair: the last wins, as in the reference
    return BPE(
        vocab, merges,
        unk_token=ctx.get(obj, "unk_token", str, None, nullable=True),
        continuing_subword_prefix=prefix,
        end_of_word_suffix=ctx.get(obj, "end_of_word_suffix", str, None, nullable=True),
        fuse_unk=ctx.get(obj, "fuse_unk", bool, False, nullable=True) or False,
        byte_fallback=ctx.get(obj, "byte_fallback", bool, False, nullable=True) or False,
        ignore_merges=ctx.get(obj, "ignore_merges", bool, False, nullable=True) or False,
    )
