"""The Precompiled normalizer: SentencePiece's compiled normalization rules (XLM-R, ALBERT, T5).

``precompiled_charsmap`` (base64) is ``[u32 trie size][double-array trie][replacement strings]``.
The trie maps UTF-8 keys to offsets of NUL-terminated replacements. As the reference does, text is
cut into grapheme clusters; a cluster under 6 bytes with a key that is a prefix of it is replaced
whole by the SHORTEST such key's replacement (a quirk kept on purpose: it is what every model
trained with tokenizers saw), otherwise each character is looked up alone.
"""

from __future__ import annotations

import base64
import binascii
import struct
from bisect import bisect_right

from edgepack.runtime.tokenizer import _regex
from edgepack.runtime.tokenizer._spec import Ctx
from edgepack.runtime.tokenizer.normalized import NormalizedString


class DoubleArray:
    """SentencePiece's Darts double-array trie, read-only."""

    def __init__(self, units: tuple[int, ...]):
        self.units = units

    def prefix_values(self, key: bytes) -> list[int]:
        """Values of every key that is a prefix of ``key``, shortest first."""
        units, n = self.units, len(self.units)
        out = []
        pos = 0
        u = units[0]
        pos ^= (u >> 10) << ((u & (1 << 9)) >> 6)
        for c in key:
            if c == 0:
                break
            pos ^= c
            if pos >= n:
                break
            u = units[pos]
            if u & ((1 << 31) | 0xFF) != c:
                break
            pos ^= (u >> 10) << ((u & (1 << 9)) >> 6)
            if (u >> 8) & 1:
                if pos >= n:
                    break
                out.append(units[pos] & ((1 << 31) - 1))
        return out


# Grapheme clusters, as far as they matter here (a cluster under 6 UTF-8 bytes of 2+ characters):
# UAX #29 with break properties from the classes probed from the reference (_regex_tables: \p{M},
# \p{Cc} ...), so every host cuts the same way. Hangul, regional indicators and emoji sequences are
# always 6 bytes or more, so they are cut per character either way.
_PREPEND = {*range(0x600, 0x606), 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0xD4E}


class _Classes:
    def __init__(self, names):
        rs = sorted(r for n in names for r in _regex.ranges(n))
        self.starts, self.ends = [a for a, _ in rs], [b for _, b in rs]
        self.memo: dict[str, bool] = {}

    def __contains__(self, c: str) -> bool:
        r = self.memo.get(c)
        if r is None:
            i = bisect_right(self.starts, ord(c)) - 1
            r = i >= 0 and ord(c) <= self.ends[i]
            if len(self.memo) < 65_536:
                self.memo[c] = r
        return r


_MARKS = None
_CONTROLS = None


# Grapheme_Cluster_Break Extend / SpacingMark code points outside the M classes: U+FF9E/FF9F
# (halfwidth kana voiced marks, Lm), the emoji skin-tone modifiers (Sk), the tag characters (Cf),
# Thai/Lao SARA AM (Lo). Found by the property test: '¸ﾞ' is one cluster for the reference.
_EXTEND_NOT_M = {0xFF9E, 0xFF9F, *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080), 0x0E33, 0x0EB3}


def _extends(c: str) -> bool:
    """Extend, ZWJ or SpacingMark (the M classes, ZWNJ, ZWJ and _EXTEND_NOT_M): joins the cluster
    before it (GB9, GB9a)."""
    return c in "\u200c\u200d" or ord(c) in _EXTEND_NOT_M or c in _MARKS


def _is_control(c: str) -> bool:
    return c not in "\u200c\u200d" and c in _CONTROLS and ord(c) not in _PREPEND and ord(c) not in _EXTEND_NOT_M


def graphemes(text: str) -> list[str]:
    global _MARKS, _CONTROLS
    if _MARKS is None:  # built on first use: importing stays cheap on a Pi
        _MARKS, _CONTROLS = _Classes(["M"]), _Classes(["Cc", "Cf", "Zl", "Zp"])
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        c = text[i]
        if c == "\r":
            if j < n and text[j] == "\n":
                j += 1
        elif not _is_control(c):
            while ord(text[j - 1]) in _PREPEND and j < n and not _is_control(text[j]) and text[j] not in "\r\n":
                j += 1
            while j < n and _extends(text[j]):
                j += 1
        out.append(text[i:j])
        i = j
    return out


class Precompiled:
    MEMO = 65_536

    def __init__(self, trie: DoubleArray, pool: bytes):
        self.trie, self.pool = trie, pool
        self._memo: dict[str, str | None] = {}

    def transform(self, chunk: str) -> str | None:
        got = self._memo.get(chunk, 0)
        if got != 0:
            return got
        values = self.trie.prefix_values(chunk.encode("utf-8", "surrogatepass"))
        if not values:
            got = None
        else:
            start = values[0]
            end = self.pool.find(b"\0", start)
            got = self.pool[start:end if end >= 0 else len(self.pool)].decode("utf-8", "replace")
        if len(self._memo) < self.MEMO:
            self._memo[chunk] = got
        return got

    def _changes(self, text: str) -> list[tuple[str, int]] | None:
        """The reference's transformations, or None when nothing changes."""
        changes: list[tuple[str, int]] = []
        modified = False

        def replace(old: str, new: str):
            changes.extend((c, 0) for c in new)
            diff = len(new) - len(old)
            if diff > 0:
                for k in range(len(changes) - diff, len(changes)):
                    changes[k] = (changes[k][0], 1)
            elif diff < 0 and changes:
                # A removal lands on the character before it -- even one of an earlier cluster.
                changes[-1] = (changes[-1][0], changes[-1][1] + diff)

        for g in graphemes(text):
            if len(g) > 1 and len(g.encode("utf-8", "surrogatepass")) < 6:
                norm = self.transform(g)
                if norm is not None:
                    modified = True
                    replace(g, norm)
                    continue
            for c in g:
                norm = self.transform(c)
                if norm is not None:
                    modified = True
                    replace(c, norm)
                else:
                    changes.append((c, 0))
        return changes if modified else None

    def normalize(self, ns: NormalizedString) -> None:
        changes = self._changes(ns.text)
        if changes is not None:
            ns.transform(changes)

    def normalize_str(self, text: str) -> str:
        changes = self._changes(text)
        return text if changes is None else "".join(c for c, _ in changes)


def from_spec(obj: dict, ctx: Ctx) -> Precompiled:
    c = ctx.at("precompiled_charsmap")
    raw = ctx.get(obj, "precompiled_charsmap", str, None, nullable=True)
    if not raw:
        raise c.error("is empty; a Precompiled normalizer needs the charsmap its SentencePiece model carries")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise c.error("is not valid base64") from None
    if len(data) < 4:
        raise c.error("is too short to hold a trie")
    (size,) = struct.unpack_from("<I", data)
    if size % 4 or size == 0 or 4 + size > len(data):
        raise c.error(f"declares a trie of {size} bytes in {len(data) - 4} bytes of data; the charsmap is corrupt")
    units = struct.unpack_from(f"<{size // 4}I", data, 4)
    pool = data[4 + size:]
    return Precompiled(DoubleArray(units), pool)
