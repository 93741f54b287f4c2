"""Normalizers: NormalizedString -> NormalizedString, with HF's alignment bookkeeping.

Each normalizer also has ``normalize_str(text) -> text``: the same text without alignments, for the
ids-only fast path (``Tokenizer.encode(..., offsets=False)``). It is built from the same tables and
primitives, and a test holds it to the full path on every golden file and on random Unicode.
"""

from __future__ import annotations

import unicodedata

from edgepack.runtime.tokenizer import _regex, precompiled
from edgepack.runtime.tokenizer import _unicode as U
from edgepack.runtime.tokenizer._spec import Ctx
from edgepack.runtime.tokenizer.normalized import NormalizedString


def lowercase(ns: NormalizedString) -> None:
    text = ns.text
    if text.isascii():
        ns.text = text.lower()
        return
    low = text.translate(U.LOWER)
    if low == text:
        return
    if len(low) == len(text):  # 1:1 mapping keeps alignments
        ns.text = low
        return
    changes = []
    for c in text:
        m = U.LOWER.get(ord(c), c)
        changes.append((m[0], 0))
        changes.extend((x, 1) for x in m[1:])
    ns.transform(changes)


def lowercase_str(text: str) -> str:
    # The per-character mapping the changes in lowercase() spell out, joined.
    return text.lower() if text.isascii() else text.translate(U.LOWER)


def _decomposed(text: str, compat: bool) -> list[list]:
    """Per-character decomposition (first char change 0, the rest inserted) then canonical
    reordering; changes travel with their characters, as in unicode-normalization-alignments."""
    seq: list[list] = []
    for c in text:
        d = U.decompose_char(c, compat)
        seq.append([d[0], 0])
        for x in d[1:]:
            seq.append([x, 1])
    ccc = U.CCC
    i, n = 0, len(seq)
    while i < n:
        if ccc.get(seq[i][0], 0) == 0:
            i += 1
            continue
        j = i
        while j < n and ccc.get(seq[j][0], 0) != 0:
            j += 1
        if j - i > 1:
            seq[i:j] = sorted(seq[i:j], key=lambda p: ccc[p[0]])  # stable
        i = j
    return seq


def _composed(seq: list[list]) -> list[list]:
    """Canonical composition; the composite's change absorbs the mark's (sum - 1)."""
    ccc = U.CCC
    out: list[list] = []
    starter = -1
    last_ccc = -1  # -1: nothing between starter and the current character
    for c, chg in seq:
        cc = ccc.get(c, 0)
        if starter >= 0 and (last_ccc == -1 or last_ccc < cc) and (last_ccc != 0):
            comp = U.compose_pair(out[starter][0], c)
            if comp is not None:
                out[starter] = [comp, out[starter][1] + chg - 1]
                continue
        if cc == 0:
            starter = len(out)
            last_ccc = -1
        else:
            last_ccc = cc
        out.append([c, chg])
    return out


def _decompose_fast(ns: NormalizedString, compat: bool) -> bool:
    """NFD/NFKD without reordering: each output char takes its source char's span. Returns False
    (nothing changed) when a run of marks would need canonical reordering -- the slow path does it."""
    text, align = ns.text, ns.align
    out, new_align = [], []
    last = 0
    for m in (U.NFKD_RE if compat else U.NFD_RE).finditer(text):
        i = m.start()
        out.append(text[last:i])
        new_align.extend(align[last:i])
        d = U.decompose_char(text[i], compat)
        out.append(d)
        new_align.extend([align[i]] * len(d))
        last = i + 1
    out.append(text[last:])
    new_align.extend(align[last:])
    new_text = "".join(out)
    if not _marks_in_order(new_text):
        return False
    ns.text, ns.align = new_text, new_align
    return True


def _marks_in_order(text: str) -> bool:
    """No run of combining marks needs canonical reordering."""
    for m in U.MARK_RUN_RE.finditer(text):
        classes = [U.CCC[c] for c in m.group()]
        if classes != sorted(classes):
            return False
    return True


def unicode_normalize(ns: NormalizedString, form: str) -> None:
    if ns.text.isascii() or unicodedata.is_normalized(form, ns.text):
        return
    if form in ("NFD", "NFKD") and _decompose_fast(ns, form == "NFKD"):
        return
    seq = _decomposed(ns.text, form in ("NFKD", "NFKC"))
    if form in ("NFC", "NFKC"):
        seq = _composed(seq)
    ns.transform([(c, chg) for c, chg in seq])


def unicode_normalize_str(text: str, form: str) -> str:
    """unicode_normalize's text: same shortcuts, same per-character decomposition and composition."""
    if text.isascii() or unicodedata.is_normalized(form, text):
        return text
    compat = form in ("NFKD", "NFKC")
    if form in ("NFD", "NFKD"):
        fast = (U.NFKD_RE if compat else U.NFD_RE).sub(lambda m: U.decompose_char(m.group(), compat), text)
        if _marks_in_order(fast):
            return fast
    seq = _decomposed(text, compat)
    if form in ("NFC", "NFKC"):
        seq = _composed(seq)
    return "".join(c for c, _ in seq)


def clean_text(ns: NormalizedString) -> None:
    ns.remove(U.CLEAN_DROP_RE)
    ns.text = ns.text.translate(U.SPACE_TO_SPACE)


def chinese_chars(ns: NormalizedString) -> None:
    if not ns.text.isascii():
        ns.pad_matches(U.CHINESE_RE)


def strip_accents_bert(ns: NormalizedString) -> None:
    if ns.text.isascii():
        return
    unicode_normalize(ns, "NFD")
    ns.remove(U.NONSPACING_RE)


def _pad_chinese(m) -> str:
    return f" {m.group()} "


class BertNormalizer:
    def __init__(self, clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True):
        self.clean_text = clean_text
        self.handle_chinese_chars = handle_chinese_chars
        # null strip_accents means "same as lowercase" (HF/original BERT behaviour).
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.lowercase = lowercase

    def normalize(self, ns: NormalizedString) -> None:
        if self.clean_text:
            clean_text(ns)
        if self.handle_chinese_chars:
            chinese_chars(ns)
        if self.strip_accents:
            strip_accents_bert(ns)
        if self.lowercase:
            lowercase(ns)

    def normalize_str(self, text: str) -> str:
        if text.isascii() and (not self.clean_text or U.CLEAN_TOUCH_ASCII_RE.search(text) is None):
            # clean_text changes nothing here, and the other steps touch only non-ASCII text but lowercase
            return text.lower() if self.lowercase else text
        if self.clean_text:
            text = U.CLEAN_DROP_RE.sub("", text).translate(U.SPACE_TO_SPACE)
        if self.handle_chinese_chars and not text.isascii():
            text = U.CHINESE_RE.sub(_pad_chinese, text)
        if self.strip_accents and not text.isascii():
            text = U.NONSPACING_RE.sub("", unicode_normalize_str(text, "NFD"))
        if self.lowercase:
            text = lowercase_str(text)
        return text


class Lowercase:
    def normalize(self, ns):
        lowercase(ns)

    def normalize_str(self, text):
        return lowercase_str(text)


class UnicodeForm:
    def __init__(self, form):
        self.form = form

    def normalize(self, ns):
        unicode_normalize(ns, self.form)

    def normalize_str(self, text):
        return unicode_normalize_str(text, self.form)


class StripAccents:
    def normalize(self, ns):
        if not ns.text.isascii():
            ns.remove(U.COMBINING_RE)

    def normalize_str(self, text):
        return text if text.isascii() else U.COMBINING_RE.sub("", text)


class Strip:
    def __init__(self, left=True, right=True):
        self.left, self.right = left, right

    def _bounds(self, text):
        a, b = 0, len(text)
        if self.left:
            while a < b and text[a] in U.SPACE:
                a += 1
        if self.right:
            while b > a and text[b - 1] in U.SPACE:
                b -= 1
        return a, b

    def normalize(self, ns):
        a, b = self._bounds(ns.text)
        if (a, b) != (0, len(ns.text)):
            ns.text, ns.align = ns.text[a:b], ns.align[a:b]

    def normalize_str(self, text):
        a, b = self._bounds(text)
        return text[a:b]


class Replace:
    def __init__(self, pattern: str, content: str):
        self.pattern, self.content = pattern, content

    def normalize(self, ns):
        ns.replace(self.pattern, self.content)

    def normalize_str(self, text):
        # str.replace also scans left to right, non-overlapping; an empty pattern changes nothing.
        return text.replace(self.pattern, self.content) if self.pattern else text


class RegexReplace:
    """Replace with a ``{"Regex": ...}`` pattern (translated from Oniguruma, see _regex.py)."""

    def __init__(self, regex, content: str):
        self.regex, self.content = regex, content

    def normalize(self, ns):
        text, old = ns.text, ns.align
        out: list[str] = []
        new_align: list[tuple[int, int]] = []
        last = 0
        for m in self.regex.finditer(text):
            a, b = m.span()
            if a == b:
                continue  # an empty match replaces nothing
            out.append(text[last:a])
            new_align.extend(old[last:a])
            out.append(self.content)
            new_align.extend([old[b - 1]] * len(self.content))  # as String Replace: the last replaced span
            last = b
        if not out:
            return
        out.append(text[last:])
        new_align.extend(old[last:])
        ns.text, ns.align = "".join(out), new_align

    def normalize_str(self, text):
        content = self.content
        return self.regex.sub(lambda m: content if m.end() > m.start() else "", text)


class Prepend:
    def __init__(self, prepend: str):
        self.prepend = prepend

    def normalize(self, ns):
        if ns.text and self.prepend:
            # Every inserted character and the first one keep the first character's span (HF's prepend).
            changes = [(c, int(k > 0)) for k, c in enumerate(self.prepend)] + [(ns.text[0], 1)]
            changes.extend((c, 0) for c in ns.text[1:])
            ns.transform(changes)

    def normalize_str(self, text):
        return self.prepend + text if text else text


class Nmt:
    """SentencePiece's NMT clean-up: some controls removed, some separators made spaces."""

    def normalize(self, ns):
        if ns.text.isascii() and not U.NMT_ASCII_RE.search(ns.text):
            return
        ns.remove(U.NMT_REMOVE_RE)
        ns.text = U.NMT_SPACE_RE.sub(" ", ns.text)  # one for one: alignments unchanged

    def normalize_str(self, text):
        return U.NMT_SPACE_RE.sub(" ", U.NMT_REMOVE_RE.sub("", text))


class Sequence:
    def __init__(self, items):
        self.items = items

    def normalize(self, ns):
        for n in self.items:
            n.normalize(ns)

    def normalize_str(self, text):
        for n in self.items:
            text = n.normalize_str(text)
        return text


SUPPORTED = ("BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents", "Strip", "Replace",
             "Prepend", "Nmt", "Precompiled", "Sequence")


def from_spec(obj, ctx: Ctx):
    if obj is None:
        return None
    obj = ctx.obj(obj)
    t = ctx.type_of(obj, SUPPORTED)
    if t == "BertNormalizer":
        return BertNormalizer(
            clean_text=ctx.get(obj, "clean_text", bool, True),
            handle_chinese_chars=ctx.get(obj, "handle_chinese_chars", bool, True),
            strip_accents=ctx.get(obj, "strip_accents", bool, None, nullable=True),
            lowercase=ctx.get(obj, "lowercase", bool, True),
        )
    if t == "Lowercase":
        return Lowercase()
    if t in ("NFC", "NFD", "NFKC", "NFKD"):
        return UnicodeForm(t)
    if t == "StripAccents":
        return StripAccents()
    if t == "Strip":
        return Strip(ctx.get(obj, "strip_left", bool, True), ctx.get(obj, "strip_right", bool, True))
    if t == "Replace":
        pat = ctx.obj(ctx.get(obj, "pattern", dict))
        content = ctx.get(obj, "content", str)
        if "String" in pat:
            return Replace(ctx.at("pattern").get(pat, "String", str), content)
        return RegexReplace(_regex.compile_pattern(pat, ctx.at("pattern")), content)
    if t == "Prepend":
        return Prepend(ctx.get(obj, "prepend", str))
    if t == "Nmt":
        return Nmt()
    if t == "Precompiled":
        return precompiled.from_spec(obj, ctx)
    items = ctx.get(obj, "normalizers", list)
    return Sequence([from_spec(ctx.obj(x), ctx.at("normalizers").at(i)) for i, x in enumerate(items)])
