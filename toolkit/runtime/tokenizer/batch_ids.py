"""A batch of ASCII texts -> padded int64 feeds in one pass over the whole batch (issue 16).

The per-text path (``Tokenizer.encode_batch(offsets=False)`` then ``encoder.pad_batch``) pays
Python's call overhead per text and per step: ~5 µs a text, 164 µs for the sentiment sample's 32
texts of 16 tokens, half of its int8 model's time. Here the batch is ONE string: the texts joined
with ``SEP`` (" \\x00 "), normalized by one ``str.translate``/``lower``, pre-tokenized by one call,
looked up by one ``map`` over all its words, then cut into rows, truncated, given the
post-processor's special tokens and padded by a few numpy operations.

That is the per-text answer only where it provably is, so ``BatchIds.feeds`` returns None (the
caller takes the exact path) unless:

* every text is an ASCII ``str`` with no NUL (the joined string, ``SEP`` before each text and
  after the last, holds exactly n + 1 NULs), and no raw added token occurs in it -- nor a
  normalized one in the normalized string (a match across ``SEP`` only sends a batch back, it
  cannot hide one inside a text);
* the normalizer (``_CHAR_MAPS``) maps each ASCII character on its own, whatever surrounds it, so
  normalizing the joined string is normalizing each text; a table of 128 entries, built from the
  normalizer's own ``normalize_str``, does it in one pass. It must keep " " and give nothing a NUL:
  then the only NULs after normalization are the separators (tables may drop NUL: the separator's is
  kept because no text has one);
* the pre-tokenizer splits on whitespace and drops it (``_WHITESPACE_SPLITTERS``, or a Sequence that
  starts with one and goes on with splitters that only cut inside a piece), so no word crosses
  " \\x00 " and each separator is the word "\\x00";
* the model is WordLevel (one id a word) or WordPiece (its own ``tokenize`` per word, remembered in
  a bounded cache), and no vocabulary id is negative (checked at load): the separator's id is -1;
* the post-processor is none, BertProcessing, RobertaProcessing or TemplateProcessing: one fixed
  prefix and suffix of special tokens around the text, read once from the processor's own
  ``process``; truncation is off, or LongestFirst / OnlyFirst (for one text both keep
  ``max_length - specials`` ids from ``direction``'s side); the tokenizer's own padding is off (the
  encoder switches it off) and every input name is one ``pad_batch`` knows.

Pairs, non-ASCII text, other components, OnlySecond truncation and small batches
(below ``MIN_BATCH``, where the numpy work costs more than it saves) all take the exact path. A
change to the tokenizer's components after construction is seen (identity check per call) and
sends every batch back; truncation and padding are read per call. (The vocabulary is copied once,
on the first batch: no API changes a model's vocabulary in place.) tests/runtime/test_batch_ids.py
holds the two paths to byte-identical feeds.
"""

from __future__ import annotations

from typing import Sequence

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.tokenizer import _unicode as U
from edgepack.runtime.tokenizer import models, normalizers, pre_tokenizers, processors
from edgepack.runtime.tokenizer.encoding import Encoding

SEP = " \x00 "
SEP_CHAR = "\x00"
SEP_ID = -1  # ids are checked to be >= 0 when tokenizer.json is read (_check_numbers)
MIN_BATCH = 3  # measured on the sentiment sample (through _pad): 0.6x at 1 text, 1.0x at 2, 1.3x at 3, 1.5x at 4;
# one text has its own numpy-light route (_one), 2x faster than the per-text path
CACHE_SIZE = 10_000  # WordPiece words split by the greedy search, remembered (cleared when full)

# Normalizers whose normalize_str maps each ASCII character alone (no context): on ASCII text each
# is a per-character table (NFx and StripAccents: identity; Lowercase: str.lower; BertNormalizer:
# clean_text drops controls and maps whitespace to " ", the rest touches non-ASCII only; Nmt:
# removes some controls and maps some to " ").
_CHAR_MAPS = (normalizers.Lowercase, normalizers.UnicodeForm, normalizers.StripAccents, normalizers.BertNormalizer,
              normalizers.Nmt)
# Pre-tokenizers whose words hold no White_Space and keep every other character: " \x00 " always
# gives the word "\x00", and no word spans two texts.
_WHITESPACE_SPLITTERS = ("BertPreTokenizer", "Whitespace", "WhitespaceSplit")
# Splitters that only cut a piece (never join two, never drop or change "\x00").
_INSIDE_SPLITTERS = _WHITESPACE_SPLITTERS + ("Punctuation", "Digits")
_PROCESSORS = (processors.BertProcessing, processors.RobertaProcessing, processors.TemplateProcessing)


class _Unsupported(Exception):
    """Raised inside a lookup: this batch goes back to the exact path."""


def _splitter_kind(p) -> str | None:
    if isinstance(p, pre_tokenizers._BertSpans):
        return "BertPreTokenizer"
    if isinstance(p, pre_tokenizers._RegexSpans):
        if p.regex is U.WHITESPACE_PRETOK_RE and p.ascii_regex is U.WHITESPACE_PRETOK_ASCII_RE:
            return "Whitespace"
        if p.regex is U.NON_SPACE_RE and p.ascii_regex is U.NON_SPACE_ASCII_RE:
            return "WhitespaceSplit"
        return None
    if isinstance(p, pre_tokenizers._ByChar):
        return {id(U.PUNCT_RE): "Punctuation", id(U.NUM_RE): "Digits"}.get(id(p.regex))
    return None


def _pre_tokenizer_ok(p) -> bool:
    if isinstance(p, pre_tokenizers.Sequence):
        kinds = [_splitter_kind(x) for x in p.items]
        return bool(kinds) and not p.transforms and kinds[0] in _WHITESPACE_SPLITTERS and all(
            k in _INSIDE_SPLITTERS for k in kinds)
    return _splitter_kind(p) in _WHITESPACE_SPLITTERS


def _bert_words(pre_tokenizer):
    """BertPreTokenizer.words on ASCII text, about twice as fast on a whole batch: its ASCII route
    (each punctuation character spaced out, then str.split()) with one str.replace per punctuation
    character present instead of a regex callback per occurrence -- the same string, since the
    inserted spaces are not punctuation. Unsafe characters for str.split() go to words() itself."""
    ascii_chars = [chr(c) for c in range(128)]
    punct = [(c, f" {c} ") for c in ascii_chars if U.PUNCT_ASCII_RE.match(c)]
    unsafe = [c for c in ascii_chars if U.SPLIT_UNSAFE_ASCII_RE.match(c)]
    words = pre_tokenizer.words

    def split(text: str) -> list[str]:
        for c in unsafe:  # str.find per character: much faster than a regex class scan
            if c in text:
                return words(text)
        for c, spaced in punct:
            if c in text:
                text = text.replace(c, spaced)
        return text.split()

    return split


def _char_table(normalizer) -> dict[int, str] | None | bool:
    """The normalizer as a str.translate table on ASCII; None: identity; False: not per-character."""
    if normalizer is None:
        return None
    items = normalizer.items if isinstance(normalizer, normalizers.Sequence) else [normalizer]
    if not items or not all(type(n) in _CHAR_MAPS for n in items):
        return False
    table: dict[int, str] = {}
    for c in range(1, 128):
        out = normalizer.normalize_str(chr(c))
        if not out.isascii() or SEP_CHAR in out:
            return False
        if out != chr(c):
            table[c] = out
    if table.get(ord(" "), " ") != " ":
        return False
    return table or None


def _packed(ids) -> bytes:
    """int64 little-endian ids: a batch's lookups are joined by one bytes.join, then read by numpy
    without a per-id conversion (np.array on a list of ints costs ~14 ns an id)."""
    return b"".join(i.to_bytes(8, "little", signed=True) for i in ids)


class _WordLevelIds(dict):
    """word -> its id, the separator's included; a word outside the vocabulary is the unk id
    (WordLevel.tokenize's answer), not stored (the dict never grows). One id a word, so ``ids``
    fills the array straight from the lookups: np.fromiter with the count known took 18 us for 545
    words where packed bytes + join took 31 us (the sentiment sample's batch of 32)."""

    def __init__(self, model):
        super().__init__(model.vocab)
        self[SEP_CHAR] = SEP_ID
        self.unk = model.unk_id

    def __missing__(self, word):
        if self.unk is None:
            raise _Unsupported  # the exact path raises the model's error
        return self.unk

    def ids(self, words: list[str]):
        import numpy as np

        return np.fromiter(map(self.__getitem__, words), np.int64, len(words))


class _WordPieceIds(dict):
    """word -> its packed ids: whole words of the vocabulary up front (those WordPiece takes whole:
    not longer than max_input_chars_per_word), others split by the model's own ``tokenize`` on first
    sight and remembered in a bounded cache (the dict itself never grows)."""

    def __init__(self, model):
        limit = model.max_chars
        super().__init__((w, _packed((i,))) for w, i in model.vocab.items() if len(w) <= limit)
        self[SEP_CHAR] = _packed((SEP_ID,))
        self.model = model
        self.cache: dict[str, bytes] = {}

    def __missing__(self, word):
        ids = self.cache.get(word)
        if ids is None:
            try:
                ids = _packed(i for i, _, _, _ in self.model.tokenize(word))
            except TokenizerSpecError:
                raise _Unsupported from None  # no unk token in the vocabulary: the exact path says so
            if len(self.cache) >= CACHE_SIZE:
                self.cache.clear()
            self.cache[word] = ids
        return ids

    def ids(self, words: list[str]):
        import numpy as np

        return np.frombuffer(b"".join(map(self.__getitem__, words)), "<i8")


def _layout(post_processor):
    """(prefix ids, prefix type ids, the text's type id, suffix ids, suffix type ids) of one text, read
    from the processor's own output around a two-token marker; None when it is not that shape."""
    if post_processor is None:
        return (), (), 0, (), ()
    if type(post_processor) not in _PROCESSORS:
        return None
    marker = Encoding.ids_only([-7, -8], 0, ["a", "b"])
    try:
        out = post_processor.process(marker, None, True)
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    ids, types = list(out.ids), list(out.type_ids)
    if ids.count(-7) != 1 or ids.count(-8) != 1 or any(i < 0 for i in ids if i not in (-7, -8)):
        return None
    k = ids.index(-7)
    if ids[k + 1] != -8 or types[k] != types[k + 1] or any(m != 1 for m in out.attention_mask):
        return None
    if len(ids) - 2 != post_processor.added_tokens(False):
        return None
    return tuple(ids[:k]), tuple(types[:k]), types[k], tuple(ids[k + 2:]), tuple(types[k + 2:])


class BatchIds:
    """``feeds(texts)``: ``pad_batch(tokenizer.encode_batch(texts, offsets=False), pad_id, names)``,
    byte for byte, for the batches it covers; None for the others (the caller runs the exact path)."""

    FIELDS = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(self, tokenizer, pad_id: int, input_names: Sequence[str]):
        self.tokenizer = tokenizer
        self.pad_id = int(pad_id)
        self.names = list(input_names)
        self.taken = 0  # batches answered here (tests read it: a silent fallback must show)
        self._parts = self._components()
        self.ok = self._setup()

    def _components(self):
        t = self.tokenizer
        return (t.normalizer, t.pre_tokenizer, t.model, t.post_processor, t.added)

    def _setup(self) -> bool:
        t = self.tokenizer
        if not self.names or any(n not in self.FIELDS for n in self.names):
            return False  # pad_batch raises for such a name; let it
        table = _char_table(t.normalizer)
        if table is False or t.pre_tokenizer is None or not _pre_tokenizer_ok(t.pre_tokenizer):
            return False
        layout = _layout(t.post_processor)
        if layout is None:
            return False
        self._lookup_type = {models.WordLevel: _WordLevelIds, models.WordPiece: _WordPieceIds}.get(type(t.model))
        if self._lookup_type is None:
            return False
        self._lookup = None  # made on the first batch: the Pyodide page builds a BatchEncoder, never calls it
        if table is None:
            self._normalize = None
        elif table == {c: chr(c).lower() for c in range(65, 91)}:
            self._normalize = str.lower  # the common case; faster than translate
        else:
            self._normalize = lambda s, _table=table: s.translate(_table)
        self._words = t.pre_tokenizer.words
        if _splitter_kind(t.pre_tokenizer) == "BertPreTokenizer":
            self._words = _bert_words(t.pre_tokenizer)
        self._prefix, self._prefix_types, self._type, self._suffix, self._suffix_types = layout
        self._added = t.post_processor.added_tokens(False) if t.post_processor is not None else 0
        return True

    def feeds(self, texts: list) -> dict | None:
        n = len(texts)
        if not self.ok or n == 0 or 1 < n < MIN_BATCH:  # one text: _one; two: the per-text path is as fast
            return None
        t = self.tokenizer
        if t._padding is not None or self._components() != self._parts:
            return None
        trunc = t._truncation
        limit, left = None, False
        if trunc:
            if trunc["strategy"] not in ("LongestFirst", "OnlyFirst"):
                return None
            limit = trunc["max_length"] - self._added
            if limit < 0:
                return None  # the exact path raises its error
            left = trunc["direction"] == "Left"
        try:
            # A separator before every text and after the last: row k lies between separators k and k+1.
            joined = SEP + SEP.join(texts) + SEP
        except TypeError:  # a pair or a non-str: the exact path answers (or raises)
            return None
        if not joined.isascii() or joined.count(SEP_CHAR) != n + 1:
            return None
        added = t.added
        if added.raw_re is not None and added.raw_re.search(joined) is not None:
            return None
        if self._normalize is not None:
            joined = self._normalize(joined)
        if added.norm_re is not None and added.norm_re.search(joined) is not None:
            return None
        if self._lookup is None:
            self._lookup = self._lookup_type(t.model)
        try:
            words = self._words(joined)
            if n == 1:
                # one text: the two separators must stand alone at the ends (list checks, no numpy)
                if words[0] != SEP_CHAR or words[-1] != SEP_CHAR or words.count(SEP_CHAR) != 2:
                    return None
                out = self._one(self._lookup.ids(words[1:-1]), limit, left)
            else:
                out = self._pad(self._lookup.ids(words), n, limit, left)
        except _Unsupported:
            return None
        if out is not None:
            self.taken += 1
        return out

    def _pad(self, ids, n: int, limit, left: bool) -> dict | None:
        """``ids``: int64 array of every word's ids, separators (SEP_ID) included."""
        import numpy as np

        is_sep = ids < 0
        seps = np.flatnonzero(is_sep)
        if seps.size != n + 1:
            return None  # a separator did not stand alone: cannot happen for the components allowed
        keep = seps[1:] - seps[:-1]
        keep -= 1  # ids in each row
        longest = int(keep.max())
        prefix, suffix = self._prefix, self._suffix
        lp = len(prefix)
        cut = limit is not None and longest > limit
        if cut:
            keep = np.minimum(keep, limit)
            longest = limit
        stop = keep + lp if lp else keep  # where each row's text ends
        width = max(longest + lp + len(suffix), 1)
        col = np.arange(width)
        body = col < stop[:, None]
        if lp:
            body &= col >= lp
        if cut:  # each body cell gathers its own id: the first (or last) ``keep`` of its row
            first = seps[1:] - keep if left else seps[:-1] + 1
            values = ids[((first - lp)[:, None] + col)[body]]
        else:  # row-major order of the body cells is the texts' order
            values = ids[~is_sep]
        block = np.empty((len(self.names), n, width), np.int64)
        for k, name in enumerate(self.names):
            a = block[k]
            if name == "input_ids":
                a.fill(self.pad_id)
                a[body] = values
                specials = (prefix, suffix)
            elif name == "attention_mask":
                if lp or suffix:
                    np.less(col, (stop + len(suffix))[:, None], out=a)
                else:
                    a[...] = body
                continue
            else:  # token_type_ids: padding gets 0 (pad_batch's rule)
                a.fill(0)
                if self._type:
                    a[body] = self._type
                specials = (self._prefix_types, self._suffix_types)
            if lp:
                a[:, :lp] = specials[0]
            if suffix:
                rows = np.arange(n)
                for j, v in enumerate(specials[1]):
                    a[rows, stop + j] = v
        return {name: block[k] for k, name in enumerate(self.names)}

    def _one(self, row, limit, left: bool) -> dict:
        """One text's ids (no separators) as feeds of one row: no cutting or masks to compute (the
        per-text path spends ~7 us on a 16-word text, this ~3.5; a batch-1 call of the sample LSTM
        is ~45 us). Every numpy call costs ~0.5 us here, so the common case -- no special tokens,
        a non-empty text -- is three of them."""
        import numpy as np

        if limit is not None and row.size > limit:
            row = row[row.size - limit:] if left else row[:limit]
        prefix, suffix = self._prefix, self._suffix
        lp, m, ls = len(prefix), row.size, len(suffix)
        used = lp + m + ls
        width = max(used, 1)  # an empty text is one pad position with mask 0 (encoder's rule)
        block = np.empty((len(self.names), 1, width), np.int64)
        for k, name in enumerate(self.names):
            a = block[k, 0]
            if used == m == width:  # no special tokens, no padding
                if name == "input_ids":
                    a[:] = row
                else:
                    a.fill(1 if name == "attention_mask" else self._type)
                continue
            if name == "attention_mask":
                a[:used] = 1
                a[used:] = 0
                continue
            if name == "input_ids":
                a[lp:lp + m] = row
                specials, fill = (prefix, suffix), self.pad_id
            else:  # token_type_ids
                a[lp:lp + m] = self._type
                specials, fill = (self._prefix_types, self._suffix_types), 0
            a[:lp] = specials[0]
            a[lp + m:used] = specials[1]
            a[used:] = fill
        return {name: block[k] for k, name in enumerate(self.names)}
