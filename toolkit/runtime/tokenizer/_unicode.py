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

    __slots__ = ("starts", "ends", "memo", "cls")

    def __init__(self, spec: str):
        rs = _parse_ranges(spec)
        self.starts = [a for a, _ in rs]
        self.ends = [b for _, b in rs]
        self.memo: dict[str, bool] = {}
        self.cls = _char_class(rs)

    def __contains__(self, c: str) -> bool:
        r = self.memo.get(c)
        if r is None:
            cp = ord(c)
            i = bisect_right(self.starts, cp) - 1
            r = i >= 0 and cp <= self.ends[i]
            if len(self.memo) < 65536:
                self.memo[c] = r
        return r


OTHER = _RangeSet(TABLES["other"])  # Cc/Cf/Co as the reference's crate sees them (not Cn)
SPACE = _RangeSet(TABLES["space"])  # Rust char::is_whitespace == White_Space
PUNCT = _RangeSet(TABLES["punct"])  # ASCII punctuation + Unicode P*
WORD = _RangeSet(TABLES["word"])  # Oniguruma \w
NUM = _RangeSet(TABLES["num"])  # Rust char::is_numeric (N*)
COMBINING = _RangeSet(TABLES["comb"])  # StripAccents: is_combining_mark
NONSPACING = _RangeSet(TABLES["mn"])  # BertNormalizer strip_accents: Mn
NFD_DECOMPOSES = _RangeSet(TABLES["nfd"])
NFKD_DECOMPOSES = _RangeSet(TABLES["nfkd"])

NONSPACING_RE = re.compile(f"[{NONSPACING.cls}]+")
COMBINING_RE = re.compile(f"[{COMBINING.cls}]+")
NFD_RE = re.compile(f"[{NFD_DECOMPOSES.cls}]")
NFKD_RE = re.compile(f"[{NFKD_DECOMPOSES.cls}]")

# Regexes built from the same tables; used to find work quickly in long strings.
SPACE_RE = re.compile(f"[{SPACE.cls}]+")
NON_SPACE_RE = re.compile(f"[^{SPACE.cls}]+")
BERT_PRETOK_RE = re.compile(f"[^{SPACE.cls}{PUNCT.cls}]+|[{PUNCT.cls}]")
# clean_text maps every whitespace character to " " (1:1, alignments unchanged).
SPACE_TO_SPACE = {a: " " for lo, hi in _parse_ranges(TABLES["space"]) for a in range(lo, hi + 1)}
WHITESPACE_PRETOK_RE = re.compile(f"[{WORD.cls}]+|[^{WORD.cls}{SPACE.cls}]+")
PUNCT_RE = re.compile(f"[{PUNCT.cls}]")
NUM_RE = re.compile(f"[{NUM.cls}]")
# BERT clean_text drops NUL, U+FFFD and "other" except \t \n \r (those become spaces).
CLEAN_DROP_RE = re.compile(f"[\x00\ufffd{OTHER.cls}]+")
# BertNormalizer's CJK ranges exactly as the reference has them -- including its 0x2B920 start of
# Extension E (the Unicode block starts at 0x2B820; characters in between are not padded).
CHINESE_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df"
                        "\U0002a700-\U0002b81f\U0002b920-\U0002ceaf\U0002f800-\U0002fa1f]")


def _lower_table() -> dict[int, str]:
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


# Rust's char::to_lowercase, per character (no final-sigma context, unlike str.lower()).
LOWER = _lower_table()
LOWER_MULTI = {chr(int(cp, 16)) for cp in TABLES["lower_multi"]}


def _ccc_table() -> dict[str, int]:
    out = {}
    for part in TABLES["ccc"].split():
        r, _, k = part.partition(":")
        a, _, b = r.partition("-")
        for cp in range(int(a, 16), int(b, 16) + 1):
            out[chr(cp)] = int(k)
    return out


CCC = _ccc_table()
MARK_RUN_RE = re.compile("[" + "".join(re.escape(c) for c in sorted(CCC)) + "]{2,}")


def decompose_char(c: str, compat: bool) -> str:
    if compat:
        return unicodedata.normalize("NFKD", c) if c in NFKD_DECOMPOSES else c
    return unicodedata.normalize("NFD", c) if c in NFD_DECOMPOSES else c


_compose_memo: dict[tuple[str, str], str | None] = {}


def compose_pair(a: str, b: str) -> str | None:
    """Primary composite of a + b, only where the reference knows it."""
    key = (a, b)
    if key in _compose_memo:
        return _compose_memo[key]
    r = unicodedata.normalize("NFC", a + b)
    out = r if len(r) == 1 and r in NFD_DECOMPOSES and unicodedata.normalize("NFD", r) == unicodedata.normalize("NFD", a + b) else None
    _compose_memo[key] = out
    return out
