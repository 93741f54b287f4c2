"""A string under normalization that remembers where each character came from.

Mirrors Hugging Face ``NormalizedString``: every normalized character carries the (start, end)
span of the original text it came from, so tokens can report offsets into the user's string.
Indices are code points (Python ``str`` indices), never bytes.

Alignment rules copied from tokenizers' ``transform_range`` because offsets are part of the
conformance contract: a character produced with ``change > 0`` (inserted) inherits the span of
the previous input character; every other character takes the span of the input character it
replaces, and ``change < 0`` additionally swallows that many following input characters.
"""

from __future__ import annotations


class NormalizedString:
    __slots__ = ("text", "align")

    def __init__(self, text: str, align: list[tuple[int, int]] | None = None, base: int = 0):
        self.text = text
        # align[i] = (start, end) in the ORIGINAL string (absolute, never re-based on slicing).
        self.align = align if align is not None else [(base + i, base + i + 1) for i in range(len(text))]

    def __len__(self) -> int:
        return len(self.text)

    def __repr__(self) -> str:
        return f"NormalizedString({self.text!r})"

    def slice(self, start: int, end: int) -> "NormalizedString":
        return NormalizedString(self.text[start:end], self.align[start:end])

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of normalized range [start, end) (first start, last end, like HF)."""
        if start >= end:
            if start < len(self.align):
                s = self.align[start][0]
            elif self.align:
                s = self.align[-1][1]
            else:
                s = 0
            return (s, s)
        return (self.align[start][0], self.align[end - 1][1])

    def transform(self, changes: list[tuple[str, int]], initial_removed: int = 0) -> None:
        """Replace the whole text by ``changes`` [(char, change)], HF semantics (see module doc)."""
        old = self.align
        new_align: list[tuple[int, int]] = []
        out: list[str] = []
        idx = initial_removed  # next input character to consume
        for c, change in changes:
            if change > 0:
                a = old[idx - 1] if idx >= 1 else (0, 0)
            else:
                a = old[idx]
                idx += 1 - change
            out.append(c)
            new_align.append(a)
        self.text = "".join(out)
        self.align = new_align

    def remove(self, regex) -> None:
        """Drop every character matched by ``regex``; the others keep their spans."""
        text, align = self.text, self.align
        out, new_align = [], []
        last = 0
        for m in regex.finditer(text):
            a, b = m.span()
            out.append(text[last:a])
            new_align.extend(align[last:a])
            last = b
        if last == 0 and not out:
            return
        out.append(text[last:])
        new_align.extend(align[last:])
        self.text, self.align = "".join(out), new_align

    def pad_matches(self, regex) -> None:
        """Surround every match (one char) with spaces; all three take the char's span (HF's
        changes 0, +1, +1)."""
        text, align = self.text, self.align
        out, new_align = [], []
        last = 0
        for m in regex.finditer(text):
            i = m.start()
            out.append(text[last:i])
            new_align.extend(align[last:i])
            out.append(f" {text[i]} ")
            new_align.extend((align[i], align[i], align[i]))
            last = i + 1
        if last == 0:
            return
        out.append(text[last:])
        new_align.extend(align[last:])
        self.text, self.align = "".join(out), new_align

    def replace(self, pattern: str, content: str) -> None:
        """Replace every non-overlapping occurrence of ``pattern``; HF gives the inserted
        characters the span of the last replaced character."""
        if not pattern or pattern not in self.text:
            return
        text, old = self.text, self.align
        out: list[str] = []
        new_align: list[tuple[int, int]] = []
        last = 0
        plen = len(pattern)
        pos = text.find(pattern)
        while pos != -1:
            out.append(text[last:pos])
            new_align.extend(old[last:pos])
            end = pos + plen
            a = old[end - 1]
            out.append(content)
            new_align.extend([a] * len(content))
            last = end
            pos = text.find(pattern, end)
        out.append(text[last:])
        new_align.extend(old[last:])
        self.text = "".join(out)
        self.align = new_align
