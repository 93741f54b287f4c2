"""Byte-level (GPT-2, RoBERTa): the pre-tokenizer, its decoder and its offset trimming.

The pre-tokenizer spells each piece's UTF-8 bytes with GPT-2's byte -> printable character table,
so a BPE vocabulary of 256 base symbols covers every text. Pieces are words of the model with a
position map: ``pos[k]`` is the index, in the stretch of normalized text, of the character whose
byte ``word[k]`` spells -- so a token reports the span of the characters its bytes came from.
"""

from __future__ import annotations

import re

from edgepack.runtime.tokenizer import _regex
from edgepack.runtime.tokenizer import _unicode as U


def _bytes_to_chars() -> list[str]:
    # GPT-2's table: printable Latin-1 bytes stand for themselves, the other 68 bytes are moved to
    # U+0100 upward in byte order (so the space is U+0120 'Ġ').
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return [table[b] for b in range(256)]


BYTE_CHARS = _bytes_to_chars()
CHAR_BYTES = {c: b for b, c in enumerate(BYTE_CHARS)}
SPACE = BYTE_CHARS[0x20]  # 'Ġ'
# One character per byte value, for str.translate on ASCII text (one byte per character there).
_ASCII_TABLE = {b: BYTE_CHARS[b] for b in range(128)}

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_GPT2_RE = None


def gpt2_regex():
    global _GPT2_RE
    if _GPT2_RE is None:  # built on first use: the translated classes are ~30 KB of ranges
        from edgepack.runtime.tokenizer._spec import Ctx
        _GPT2_RE = re.compile(_regex.translate(GPT2_PATTERN, Ctx("ByteLevel")))
    return _GPT2_RE


def spell(word: str) -> str:
    """``word``'s UTF-8 bytes as byte characters."""
    if word.isascii():
        return word.translate(_ASCII_TABLE)
    return "".join([BYTE_CHARS[b] for b in word.encode("utf-8", "surrogatepass")])


def spell_with_pos(word: str, base) -> tuple[str, list[int]]:
    """``spell(word)`` and, per byte character, the index (``base[k]`` for word[k]) it came from."""
    if word.isascii():
        return word.translate(_ASCII_TABLE), list(base)
    out, pos = [], []
    for c, p in zip(word, base):
        for b in c.encode("utf-8", "surrogatepass"):
            out.append(BYTE_CHARS[b])
            pos.append(p)
    return "".join(out), pos


class ByteLevel:
    """Pre-tokenizer. ``pieces`` is the full path (words + position maps), ``words`` the ids-only one."""

    transforms = True

    def __init__(self, add_prefix_space=True, trim_offsets=True, use_regex=True):
        self.add_prefix_space, self.trim_offsets, self.use_regex = add_prefix_space, trim_offsets, use_regex

    def _split(self, text: str) -> list[tuple[int, int]]:
        if not self.use_regex:
            return [(0, len(text))] if text else []
        return [m.span() for m in gpt2_regex().finditer(text) if m.end() > m.start()]

    def pieces(self, word: str, pos: list[int], align) -> list[tuple[str, list[int]]]:
        if self.add_prefix_space and word and not word.startswith(" "):
            word, pos = " " + word, [pos[0]] + pos  # the space takes the first character's span
        out = []
        for a, b in self._split(word):
            out.append(spell_with_pos(word[a:b], pos[a:b]))
        return out

    def words(self, text: str) -> list[str]:
        if self.add_prefix_space and text and not text.startswith(" "):
            text = " " + text
        if not self.use_regex:
            return [spell(text)] if text else []
        return [spell(w) for w in gpt2_regex().findall(text) if w]


class ByteLevelDecoder:
    def decode_chain(self, tokens: list[str]) -> list[str]:
        data = bytearray()
        for t in tokens:
            bs = [CHAR_BYTES.get(c) for c in t]
            data.extend(t.encode("utf-8") if None in bs else bytes(bs))
        return [data.decode("utf-8", "replace")]


def trim_offsets(tokens: list[str], offsets: list[tuple[int, int]], add_prefix_space: bool) -> None:
    """The reference's ``process_offsets``: a token's offsets leave out its leading and trailing
    spaces ('Ġ' or whitespace -- Rust's char::is_whitespace, our SPACE table), except one leading
    space of the first token (or one at offset 0) when ``add_prefix_space``: that space was added,
    it is not in the text."""
    space = U.SPACE
    for k, t in enumerate(tokens):
        if not t or (t[0] != SPACE and t[-1] != SPACE and t[0] not in space and t[-1] not in space):
            continue
        lead = 0
        for c in t:
            if c == SPACE or c in space:
                lead += 1
            else:
                break
        trail = 0
        for c in reversed(t):
            if c == SPACE or c in space:
                trail += 1
            else:
                break
        s, e = offsets[k]
        if lead:
            if (k == 0 or s == 0) and add_prefix_space and lead == 1:
                lead = 0
            s = min(s + lead, e)
        if trail and e >= trail:
            e = max(e - trail, s)
        offsets[k] = (s, e)
