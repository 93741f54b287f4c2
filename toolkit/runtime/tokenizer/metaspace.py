"""Metaspace (SentencePiece style): spaces become '▁', a '▁' is prepended, words start at each '▁'."""

from __future__ import annotations

SCHEMES = ("always", "first", "never")


class MetaspaceFirst:
    """Pre-tokenizer. Runs once per stretch of text between added tokens, as the reference does.
    With prepend_scheme "first" it has no ids-only ``words``: whether a stretch starts the input is
    read from the original offsets, which only the full path keeps."""

    transforms = True

    def __init__(self, replacement="\u2581", prepend_scheme="always", split=True):
        self.replacement, self.prepend_scheme, self.split_words = replacement, prepend_scheme, split

    def _split(self, text: str) -> list[tuple[int, int]]:
        if not self.split_words:
            return [(0, len(text))] if text else []
        # MergedWithNext on the replacement: each piece starts at a replacement character.
        r = self.replacement
        out, last = [], 0
        i = text.find(r, 1)
        while i != -1:
            out.append((last, i))
            last = i
            i = text.find(r, i + 1)
        if last < len(text):
            out.append((last, len(text)))
        return out

    def _prepend(self, text: str, at_start: bool) -> bool:
        if not text or text.startswith(self.replacement):
            return False
        return self.prepend_scheme == "always" or (self.prepend_scheme == "first" and at_start)

    def pieces(self, word: str, pos: list[int], align) -> list[tuple[str, list[int]]]:
        word = word.replace(" ", self.replacement)
        # "first": only the stretch that starts the input (its first character at original offset 0).
        if self._prepend(word, bool(pos) and align[pos[0]][0] == 0):
            word, pos = self.replacement + word, [pos[0]] + pos
        return [(word[a:b], pos[a:b]) for a, b in self._split(word)]


class Metaspace(MetaspaceFirst):
    def words(self, text: str) -> list[str]:
        text = text.replace(" ", self.replacement)
        if self._prepend(text, False):
            text = self.replacement + text
        return [text[a:b] for a, b in self._split(text)]


class MetaspaceDecoder:
    def __init__(self, replacement="\u2581", prepend_scheme="always"):
        self.replacement, self.prepend_scheme = replacement, prepend_scheme

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out = []
        for k, t in enumerate(tokens):
            if k == 0 and self.prepend_scheme != "never":
                t = t.replace(self.replacement, "")
            else:
                t = t.replace(self.replacement, " ")
            out.append(t)
        return out
