"""Pre-tokenizers: split a NormalizedString into pieces (never empty), as HF's split behaviours do."""

from __future__ import annotations

from edgepack.runtime.tokenizer import _regex
from edgepack.runtime.tokenizer import _unicode as U
from edgepack.runtime.tokenizer.byte_level import ByteLevel
from edgepack.runtime.tokenizer.metaspace import SCHEMES, Metaspace, MetaspaceFirst
from edgepack.runtime.tokenizer._spec import Ctx

BEHAVIORS = ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")


def char_matches(text: str, regex, a: int, b: int) -> list[tuple[int, int, bool]]:
    """HF's Fn(char)->bool pattern: every matching char is its own match, gaps are non-matches."""
    if a == b:
        return [(a, a, False)]
    out = []
    last = a
    for m in regex.finditer(text, a, b):
        i = m.start()
        if last < i:
            out.append((last, i, False))
        out.append((i, i + 1, True))
        last = i + 1
    if last < b:
        out.append((last, b, False))
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


# Pre-tokenizers never change characters, so a pre-token is a span (a, b) of the normalized text:
# split(text, a, b) returns the non-empty spans inside [a, b). words(text) returns the same pieces
# as strings, for the ids-only fast path (no offsets to keep).

class _RegexSpans:
    def __init__(self, regex, ascii_regex):
        assert regex.groups == 0 == ascii_regex.groups, "words() relies on findall returning whole matches"
        self.regex, self.ascii_regex = regex, ascii_regex  # the second: same matches on ASCII text, faster

    def split(self, text, a, b):
        regex = self.ascii_regex if text.isascii() else self.regex
        return [m.span() for m in regex.finditer(text, a, b)]

    def words(self, text):
        # The patterns have no groups, so findall returns the matched substrings (C speed).
        return (self.ascii_regex if text.isascii() else self.regex).findall(text)


def Whitespace():  # noqa: N802 -- named like the spec type
    """Regex ``\\w+|[^\\w\\s]+`` keeping the matches."""
    return _RegexSpans(U.WHITESPACE_PRETOK_RE, U.WHITESPACE_PRETOK_ASCII_RE)


def WhitespaceSplit():  # noqa: N802
    return _RegexSpans(U.NON_SPACE_RE, U.NON_SPACE_ASCII_RE)


def _spaced(m) -> str:
    return f" {m.group()} "


class _BertSpans(_RegexSpans):
    def words(self, text):
        # ASCII text: space out each punctuation character and let str.split() cut on whitespace
        # -- the same words as the regex, about twice as fast (most runtime input is ASCII).
        if text.isascii() and U.SPLIT_UNSAFE_ASCII_RE.search(text) is None:
            return U.PUNCT_ASCII_RE.sub(_spaced, text).split()
        return super().words(text)


def BertPreTokenizer():  # noqa: N802
    """WhitespaceSplit then Punctuation(Isolated), as one regex."""
    return _BertSpans(U.BERT_PRETOK_RE, U.BERT_PRETOK_ASCII_RE)


class _ByChar:
    def __init__(self, regex, behavior):
        self.regex, self.behavior = regex, behavior

    def split(self, text, a, b):
        if not self.regex.search(text, a, b):
            return [(a, b)] if b > a else []
        return [(s, e) for s, e in apply_behavior(char_matches(text, self.regex, a, b), self.behavior) if e > s]

    def words(self, text):
        return [text[a:b] for a, b in self.split(text, 0, len(text))]


def Punctuation(behavior="Isolated"):  # noqa: N802
    return _ByChar(U.PUNCT_RE, behavior)


def Digits(individual_digits=False):  # noqa: N802
    return _ByChar(U.NUM_RE, "Isolated" if individual_digits else "Contiguous")


class Split:
    """``{"String": s}`` or ``{"Regex": r}`` matches, with a behaviour; ``invert`` swaps matches and gaps."""

    def __init__(self, regex, behavior, invert):
        self.regex, self.behavior, self.invert = regex, behavior, invert

    def split(self, text, a, b):
        if a == b:
            return []
        # The reference runs the regex on the piece alone: '^' and '$' see the piece's ends.
        sub = text if (a, b) == (0, len(text)) else text[a:b]
        matches, last, end = [], 0, -1
        for m in self.regex.finditer(sub):
            s, e = m.span()
            if s == e == end:
                continue  # Oniguruma skips an empty match right after a match; Python's re does not
            end = e
            if last < s:
                matches.append((a + last, a + s, self.invert))
            matches.append((a + s, a + e, not self.invert))  # an empty match still cuts
            last = e
        if last < len(sub):
            matches.append((a + last, b, self.invert))
        return [(s, e) for s, e in apply_behavior(matches, self.behavior) if e > s]

    def words(self, text):
        return [text[a:b] for a, b in self.split(text, 0, len(text))]


class Sequence:
    def __init__(self, items):
        self.items = items
        self.transforms = any(getattr(p, "transforms", False) for p in items)

    def split(self, text, a, b):
        spans = [(a, b)]
        for p in self.items:
            spans = [q for s, e in spans for q in p.split(text, s, e)]
        return spans

    def words(self, text):
        if not self.transforms:
            return [text[a:b] for a, b in self.split(text, 0, len(text))]
        words = [text]
        for p in self.items:
            words = [w for x in words for w in p.words(x)]
        return words

    def pieces(self, word, pos, align):
        out = [(word, pos)]
        for p in self.items:
            out = [q for w, ps in out for q in pieces(p, w, ps, align)]
        return out


def pieces(p, word: str, pos: list[int], align) -> list[tuple[str, list[int]]]:
    """The full path's pre-tokens: (word for the model, index in the stretch of each of its
    characters). Pre-tokenizers that change characters (ByteLevel, Metaspace) build the map;
    the others cut it along their spans."""
    if getattr(p, "transforms", False):
        return p.pieces(word, pos, align)
    return [(word[a:b], pos[a:b]) for a, b in p.split(word, 0, len(word))]


SUPPORTED = ("Whitespace", "WhitespaceSplit", "BertPreTokenizer", "Punctuation", "Digits", "Split", "ByteLevel",
             "Metaspace", "Sequence")


def _behavior(obj, ctx: Ctx, default: str) -> str:
    b = ctx.get(obj, "behavior", str, default)
    if b not in BEHAVIORS:
        raise ctx.at("behavior").error(f'"{b}" is not supported; supported: {", ".join(BEHAVIORS)}')
    return b


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
        return Punctuation(_behavior(obj, ctx, "Isolated"))
    if t == "Split":
        return Split(_regex.compile_pattern(ctx.get(obj, "pattern", dict), ctx.at("pattern")),
                     _behavior(obj, ctx, "Isolated"), ctx.get(obj, "invert", bool, False))
    if t == "ByteLevel":
        return ByteLevel(ctx.get(obj, "add_prefix_space", bool, True), ctx.get(obj, "trim_offsets", bool, True),
                         ctx.get(obj, "use_regex", bool, True))
    if t == "Metaspace":
        return _metaspace(obj, ctx)
    if t == "Digits":
        return Digits(ctx.get(obj, "individual_digits", bool, False))
    items = ctx.get(obj, "pretokenizers", list)
    return Sequence([from_spec(ctx.obj(x), ctx.at("pretokenizers").at(i)) for i, x in enumerate(items)])


def _metaspace(obj, ctx: Ctx):
    replacement = ctx.get(obj, "replacement", str, "\u2581")
    if len(replacement) != 1:
        raise ctx.at("replacement").error(f"{replacement!r} must be one character")
    scheme = ctx.get(obj, "prepend_scheme", str, "always")
    if scheme not in SCHEMES:
        raise ctx.at("prepend_scheme").error(f'"{scheme}" is not supported; supported: {", ".join(SCHEMES)}')
    if ctx.get(obj, "add_prefix_space", bool, None, nullable=True) is False:  # the legacy field
        if scheme != "never" and "prepend_scheme" in obj:
            raise ctx.at("add_prefix_space").error(f'false contradicts prepend_scheme "{scheme}"')
        scheme = "never"
    cls = MetaspaceFirst if scheme == "first" else Metaspace
    return cls(replacement, scheme, ctx.get(obj, "split", bool, True))
