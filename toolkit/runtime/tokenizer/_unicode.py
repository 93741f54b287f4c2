"""Character classes and case/normalization primitives, as the reference tokenizers defines them.

The tables come from probing `tokenizers` itself (see tests/tokenizer/make_tables.py and _tables.py),
so results do not depend on the host's Unicode version for classification. Decomposition and
composition of an individual character use the host's ``unicodedata`` but only for characters the
reference decomposes / composes (decompositions of assigned characters never change across Unicode
versions -- Unicode's stability policy -- so the host can do the work).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

from edgepack.runtime.tokenizer._tables import TABLES


def _parse_ranges(spec: str) -> list[tuple[int, int]]:
    out = []
    for part in spec.split():
        a, _, b = part.partition("-")
        out.append((int(a, 16), int(b or a, 16)))
    return out


def _char_class(rs: list[tuple[int, int]]) -> str:
    def esc(cp: int) -> str:
        return re.escape(chr(cp))

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in rs)


class _RangeSet:
    """Membership test over sorted inclusive ranges, with a per-character memo."""

    __slots__ = ("starts", "ends", "memo", "cls", "ascii_cls")

    def __init__(self, spec: str):
        rs = _parse_ranges(spec)
        self.starts = [a for a, _ in rs]
        self.ends = [b for _, b in rs]
        self.memo: dict[str, bool] = {}
        self.cls = _char_class(rs)
        # The same class cut to ASCII: on ASCII text a regex built from it matches exactly as the full
        # one does, and runs about 3x faster (the full classes hold hundreds of ranges).
        self.ascii_cls = _char_class([(a, min(b, 127)) for a, b in rs if a < 128])

    def __contains__(self, c: str) -> bool:
        r = self.memo.get(c)
        if r is None:
            cp = ord(c)
            i = bisect_right(self.starts, cp) - 1
            r = i >= 0 and cp <= self.ends[i]
            if len(self.memo) < 65536:
                self.memo[c] = r
        return r


_RANGE_SETS = {
    "OTHER": "other",  # Cc/Cf/Co as the reference's crate sees them (not Cn)
    "SPACE": "space",  # Rust char::is_whitespace == White_Space
    "PUNCT": "punct",  # ASCII punctuation + Unicode P*
    "WORD": "word",  # Oniguruma \w
    "NUM": "num",  # Rust char::is_numeric (N*)
    "COMBINING": "comb",  # StripAccents: is_combining_mark
    "NONSPACING": "mn",  # BertNormalizer strip_accents: Mn
    "NFD_DECOMPOSES": "nfd",
    "NFKD_DECOMPOSES": "nfkd",
}

# Regexes built from the same tables, to find work quickly in long strings (C speed).
_REGEXES = {
    "NONSPACING_RE": lambda: f"[{_g('NONSPACING').cls}]+",
    "COMBINING_RE": lambda: f"[{_g('COMBINING').cls}]+",
    "NFD_RE": lambda: f"[{_g('NFD_DECOMPOSES').cls}]",
    "NFKD_RE": lambda: f"[{_g('NFKD_DECOMPOSES').cls}]",
    "SPACE_RE": lambda: f"[{_g('SPACE').cls}]+",
    "NON_SPACE_RE": lambda: f"[^{_g('SPACE').cls}]+",
    "BERT_PRETOK_RE": lambda: f"[^{_g('SPACE').cls}{_g('PUNCT').cls}]+|[{_g('PUNCT').cls}]",
    "WHITESPACE_PRETOK_RE": lambda: f"[{_g('WORD').cls}]+|[^{_g('WORD').cls}{_g('SPACE').cls}]+",
    # ASCII-only twins of the pre-tokenizer patterns, for ASCII text (see _RangeSet.ascii_cls).
    "NON_SPACE_ASCII_RE": lambda: f"[^{_g('SPACE').ascii_cls}]+",
    "BERT_PRETOK_ASCII_RE": lambda: f"[^{_g('SPACE').ascii_cls}{_g('PUNCT').ascii_cls}]+|[{_g('PUNCT').ascii_cls}]",
    "WHITESPACE_PRETOK_ASCII_RE": lambda: (f"[{_g('WORD').ascii_cls}]+|"
                                           f"[^{_g('WORD').ascii_cls}{_g('SPACE').ascii_cls}]+"),
    # ASCII characters clean_text changes (drops, or maps to " "): none in the text, nothing to do.
    "CLEAN_TOUCH_ASCII_RE": lambda: (f"[\x00{_g('OTHER').ascii_cls}"
                                     + "".join(re.escape(chr(c)) for c in range(128)
                                               if c != 32 and chr(c) in _g('SPACE'))
                                     + "]"),
    "PUNCT_ASCII_RE": lambda: f"[{_g('PUNCT').ascii_cls}]",
    # ASCII characters where str.split() and White_Space disagree (\x1c-\x1f): str.split() is only
    # a stand-in for the whitespace split when none of them is in the text.
    "SPLIT_UNSAFE_ASCII_RE": lambda: "[" + "".join(re.escape(chr(c)) for c in range(128)
                                                  if chr(c).isspace() != (chr(c) in _g('SPACE'))) + "]",
    "PUNCT_RE": lambda: f"[{_g('PUNCT').cls}]",
    "NUM_RE": lambda: f"[{_g('NUM').cls}]",
    # BERT clean_text drops NUL, U+FFFD and "other"; \t \n \r are not "other" (they become spaces).
    "CLEAN_DROP_RE": lambda: f"[\x00\ufffd{_g('OTHER').cls}]+",
    # BertNormalizer's CJK ranges exactly as the reference has them -- including its 0x2B920 start of
    # Extension E (the Unicode block starts at 0x2B820; characters in between are not padded).
    "CHINESE_RE": lambda: ("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df"
                           "\U0002a700-\U0002b81f\U0002b920-\U0002ceaf\U0002f800-\U0002fa1f]"),
    # Nmt: the controls it removes, and the characters it makes spaces (SentencePiece's list).
    "NMT_REMOVE_RE": lambda: "[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]+",
    "NMT_SPACE_RE": lambda: "[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd]",
    "NMT_ASCII_RE": lambda: "[\x01-\x0d\x0e-\x1f\x7f]",
    "MARK_RUN_RE": lambda: "[" + "".join(re.escape(c) for c in sorted(_g('CCC'))) + "]{2,}",
}


def _lower_table() -> dict[int, str]:
    """Rust's char::to_lowercase, per character (no final-sigma context, unlike str.lower())."""
    table: dict[int, str] = {}
    for part in TABLES["lower"].split():
        s, n, step, delta = part.split(":")
        s, n, step, delta = int(s, 16), int(n), int(step), int(delta)
        for k in range(n):
            cp = s + k * step
            table[cp] = chr(cp + delta)
    for cp, v in TABLES["lower_multi"].items():
        table[int(cp, 16)] = v
    return table


def _ccc_table() -> dict[str, int]:
    out = {}
    for part in TABLES["ccc"].split():
        r, _, k = part.partition(":")
        a, _, b = r.partition("-")
        for cp in range(int(a, 16), int(b, 16) + 1):
            out[chr(cp)] = int(k)
    return out


def _g(name: str):
    """Module attribute, built on first use (global lookups inside this module bypass __getattr__)."""
    return globals()[name] if name in globals() else __getattr__(name)


def __getattr__(name: str):
    """Build tables and regexes on first use: importing stays cheap on a Pi (PEP 562)."""
    if name in _RANGE_SETS:
        value = _RangeSet(TABLES[_RANGE_SETS[name]])
    elif name in _REGEXES:
        value = re.compile(_REGEXES[name]())
    elif name == "LOWER":
        value = _lower_table()
    elif name == "CCC":
        value = _ccc_table()
    elif name == "SPACE_TO_SPACE":  # clean_text maps every whitespace character to " " (1:1)
        value = {a: " " for lo, hi in _parse_ranges(TABLES["space"]) for a in range(lo, hi + 1)}
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def decompose_char(c: str, compat: bool) -> str:
    if compat:
        return unicodedata.normalize("NFKD", c) if c in _g("NFKD_DECOMPOSES") else c
    return unicodedata.normalize("NFD", c) if c in _g("NFD_DECOMPOSES") else c


_compose_memo: dict[tuple[str, str], str | None] = {}


def compose_pair(a: str, b: str) -> str | None:
    """Primary composite of a + b, only where the reference knows it."""
    key = (a, b)
    if key in _compose_memo:
        return _compose_memo[key]
    r = unicodedata.normalize("NFC", a + b)
    ok = len(r) == 1 and r in _g("NFD_DECOMPOSES") and unicodedata.normalize("NFD", r) == unicodedata.normalize("NFD", a + b)
    out = r if ok else None
    _compose_memo[key] = out
    return out
