"""Pre-tokenizers: split a NormalizedString into pieces (never empty), as HF's split behaviours do."""

from __future__ import annotations

from edgepack.runtime.tokenizer import _unicode as U
from edgepack.runtime.tokenizer._spec import Ctx
from edgepack.runtime.tokenizer.normalized import NormalizedString

BEHAVIORS = ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")


def char_matches(text: str, regex) -> list[tuple[int, int, bool]]:
    """HF's Fn(char)->bool pattern: every matching char is its own match, gaps are non-matches."""
    if not text:
        return [(0, 0, False)]
    out = []
    last = 0
    for m in regex.finditer(text):
        b = m.start()
        if last < b:
            out.append((last, b, False))
        out.append((b, b + 1, True))
        last = b + 1
    if last < len(text):
        out.append((last, len(text), False))
    return out


def apply_behavior(matches, behavior: str) -> list[tuple[int, int]]:
    if behavior == "Removed":
        return [(a, b) for a, b, m in matches if not m]
    if behavior == "Isolated":
        return [(a, b) for a, b, _ in matches]
    acc: list[list[int]] = []
    prev = False
    if behavior == "MergedWithPrevious":
        for a, b, m in matches:
            if m and not prev and acc:
                acc[-1][1] = b
            else:
                acc.append([a, b])
            prev = m
    elif behavior == "MergedWithNext":
        for a, b, m in reversed(matches):
            if m and not prev and acc:
                acc[-1][0] = a
            else:
                acc.append([a, b])
            prev = m
        acc.reverse()
    else:  # Contiguous
        for a, b, m in matches:
            if m == prev and acc:
                acc[-1][1] = b
            else:
                acc.append([a, b])
            prev = m
    return [(a, b) for a, b in acc]


def split(ns: NormalizedString, spans) -> list[NormalizedString]:
    return [ns.slice(a, b) for a, b in spans if b > a]


class Whitespace:
    """Regex ``\\w+|[^\\w\\s]+`` keeping the matches."""

    def split(self, ns):
        return [ns.slice(m.start(), m.end()) for m in U.WHITESPACE_PRETOK_RE.finditer(ns.text)]


class WhitespaceSplit:
    def split(self, ns):
        text = ns.text
        out = []
        last = 0
        for m in U.SPACE_RE.finditer(text):
            if m.start() > last:
                out.append(ns.slice(last, m.start()))
            last = m.end()
        if last < len(text):
            out.append(ns.slice(last, len(text)) if last else ns)
        return out


class Punctuation:
    def __init__(self, behavior="Isolated"):
        self.behavior = behavior

    def split(self, ns):
        if not U.PUNCT_RE.search(ns.text):
            return [ns] if ns.text else []
        return split(ns, apply_behavior(char_matches(ns.text, U.PUNCT_RE), self.behavior))


class BertPreTokenizer:
    _ws = WhitespaceSplit()
    _punct = Punctuation("Isolated")

    def split(self, ns):
        return [p for piece in self._ws.split(ns) for p in self._punct.split(piece)]


class Digits:
    def __init__(self, individual_digits=False):
        self.behavior = "Isolated" if individual_digits else "Contiguous"

    def split(self, ns):
        if not U.NUM_RE.search(ns.text):
            return [ns] if ns.text else []
        return split(ns, apply_behavior(char_matches(ns.text, U.NUM_RE), self.behavior))


class Sequence:
    def __init__(self, items):
        self.items = items

    def split(self, ns):
        pieces = [ns]
        for p in self.items:
            pieces = [q for piece in pieces for q in p.split(piece)]
        return pieces


SUPPORTED = ("Whitespace", "WhitespaceSplit", "BertPreTokenizer", "Punctuation", "Digits", "Sequence")


def from_spec(obj, ctx: Ctx):
    if obj is None:
        return None
    obj = ctx.obj(obj)
    t = ctx.type_of(obj, SUPPORTED)
    if t == "Whitespace":
        return Whitespace()
    if t == "WhitespaceSplit":
        return WhitespaceSplit()
    if t == "BertPreTokenizer":
        return BertPreTokenizer()
    if t == "Punctuation":
        b = ctx.get(obj, "behavior", str, "Isolated")
        if b not in BEHAVIORS:
            raise ctx.at("behavior").error(f'"{b}" is not supported; supported: {", ".join(BEHAVIORS)}')
        return Punctuation(b)
    if t == "Digits":
        return Digits(ctx.get(obj, "individual_digits", bool, False))
    items = ctx.get(obj, "pretokenizers", list)
    return Sequence([from_spec(ctx.obj(x), ctx.at("pretokenizers").at(i)) for i, x in enumerate(items)])
