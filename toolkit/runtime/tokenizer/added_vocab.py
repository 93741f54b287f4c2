"""Added tokens (``added_tokens`` in tokenizer.json): matched before the model sees the text.

Tokens with ``normalized: false`` (special tokens, as tokenizers saves them) are matched in the raw
input; the others in the normalized text, against their own normalized form. Leftmost-longest,
like the reference's Aho-Corasick matcher.
"""

from __future__ import annotations

import re

from edgepack.runtime.tokenizer import _unicode as U
from edgepack.runtime.tokenizer._spec import Ctx
from edgepack.runtime.tokenizer.normalized import NormalizedString


class AddedToken:
    __slots__ = ("id", "content", "single_word", "lstrip", "rstrip", "normalized", "special")

    def __init__(self, id, content, single_word=False, lstrip=False, rstrip=False, normalized=True, special=False):
        self.id, self.content = id, content
        self.single_word, self.lstrip, self.rstrip = single_word, lstrip, rstrip
        self.normalized, self.special = normalized, special


def _matcher(patterns: dict[str, AddedToken]):
    if not patterns:
        return None
    # Longest first: at one position the regex takes the first alternative that matches.
    alts = sorted(patterns, key=lambda p: (-len(p), p))
    return re.compile("|".join(re.escape(p) for p in alts))


class AddedVocabulary:
    def __init__(self, tokens: list[AddedToken], normalizer):
        self.tokens = tokens
        self.by_content = {t.content: t for t in tokens}
        self.by_id = {t.id: t for t in tokens}
        self.special = {t.content for t in tokens if t.special}
        raw = {t.content: t for t in tokens if not t.normalized and t.content}
        norm = {}
        for t in tokens:
            if t.normalized and t.content:
                ns = NormalizedString(t.content)
                if normalizer is not None:
                    normalizer.normalize(ns)
                if ns.text:
                    norm.setdefault(ns.text, t)
        self.raw, self.norm = raw, norm
        self.raw_re, self.norm_re = _matcher(raw), _matcher(norm)

    def split(self, ns: NormalizedString, normalized: bool):
        """[(piece, token_or_None)] covering ns; matched pieces carry their AddedToken."""
        spans = self.spans(ns.text, normalized)
        if spans is None:
            return [(ns, None)]
        return [(ns.slice(a, b), tok) for a, b, tok in spans]

    def spans(self, text: str, normalized: bool):
        """[(start, end, token_or_None)] covering text, or None when nothing matches (no such added
        tokens, empty text, or no occurrence): the caller keeps the text whole. The fast path
        (offsets=False) uses these spans directly; ``split`` turns them into NormalizedStrings."""
        regex = self.norm_re if normalized else self.raw_re
        if regex is None or not text or regex.search(text) is None:  # the common case: no added token
            return None
        table = self.norm if normalized else self.raw
        out = []
        start_offset = 0
        for m in regex.finditer(text):
            start, stop = m.start(), m.end()
            tok = table[m.group()]
            if tok.single_word:
                before = start == 0 or text[start - 1] not in U.WORD
                after = stop == len(text) or text[stop] not in U.WORD
                if not (before and after):
                    continue
            if tok.lstrip:
                s = start
                while s > 0 and text[s - 1] in U.SPACE:
                    s -= 1
                start = max(s, start_offset)
            if tok.rstrip:
                while stop < len(text) and text[stop] in U.SPACE:
                    stop += 1
            if start_offset < start:
                out.append((start_offset, start, None))
            out.append((start, stop, tok))
            start_offset = stop
        if start_offset != len(text):
            out.append((start_offset, len(text), None))
        return out


def from_spec(items, ctx: Ctx, normalizer) -> AddedVocabulary:
    tokens = []
    for i, obj in enumerate(items or []):
        c = ctx.at(i)
        obj = c.obj(obj)
        tokens.append(AddedToken(
            c.get(obj, "id", int), c.get(obj, "content", str), c.get(obj, "single_word", bool, False),
            c.get(obj, "lstrip", bool, False), c.get(obj, "rstrip", bool, False),
            c.get(obj, "normalized", bool, True), c.get(obj, "special", bool, False)))
    return AddedVocabulary(tokens, normalizer)
