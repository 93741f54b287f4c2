"""Oniguruma patterns (as tokenizer.json's Split / Replace carry them) translated to Python ``re``.

The reference runs Oniguruma (Ruby syntax). The translation keeps what both engines read the same
way and expands the Unicode classes into explicit ranges probed from the reference itself
(``_regex_tables.py``), so the host's Unicode version never changes a split. Anything else is
refused with the JSON path: a pattern that would silently split differently is worse than a clear
"not supported". SPEC.md, "Regular expressions", lists both sides.
"""

from __future__ import annotations

import re

from edgepack.runtime.tokenizer._regex_tables import CLASSES
from edgepack.runtime.tokenizer._spec import Ctx

_RANGES: dict[str, list[tuple[int, int]]] = {}


def ranges(name: str) -> list[tuple[int, int]]:
    r = _RANGES.get(name)
    if r is None:
        r = []
        for part in CLASSES[name].split():
            a, _, b = part.partition("-")
            r.append((int(a, 16), int(b or a, 16)))
        _RANGES[name] = r
    return r


def _esc(cp: int) -> str:
    c = chr(cp)
    return "\\" + c if c in "\\]^-[" else c if 0x20 < cp < 0x7F else f"\\U{cp:08x}"


def class_body(name: str) -> str:
    """The inside of a ``[...]`` that matches class ``name`` (one of CLASSES)."""
    return "".join(_esc(a) if a == b else f"{_esc(a)}-{_esc(b)}" for a, b in ranges(name))


_PROPS = {"L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "N", "Nd", "P", "S"}
_SHORT = {"s": "s", "d": "d", "w": "w"}
# Escapes that mean the same single character in both engines.
_PLAIN_ESCAPES = set("tnrfvae0") | set(".^$|?*+()[]{}\\/-'\"#&~ !,:;<=>@%_`")
_REFUSED = {"b": "word boundaries (\\b)", "B": "word boundaries (\\B)", "X": "\\X", "G": "\\G", "K": "\\K",
            "A": "\\A", "z": "\\z", "Z": "\\Z", "h": "\\h", "H": "\\H", "R": "\\R", "N": "\\N", "O": "\\O",
            "k": "backreferences", "g": "subexpression calls"}


# Case-insensitive groups, (?i:...) as Llama-3-style patterns use them: ASCII letters only. Oniguruma
# folds with Unicode's simple folds (s also matches U+017F, k also U+212A) and its multi-character
# folds (one 'ß' matches "ss", one 'ﬁ' matches "fi"): the first are spelled out, letter pairs of the
# second are refused.
_FOLDS = {"s": "[sS\u017f]", "k": "[kK\u212a]"}
_MULTI_FOLDS = {"ss", "ff", "fi", "fl", "st"}


def translate(pattern: str, ctx: Ctx) -> str:
    """Oniguruma ``pattern`` -> an equivalent Python pattern, or a TokenizerSpecError naming ``ctx``."""

    def refuse(what: str):
        return ctx.error(f"regex {pattern[:80]!r}: {what} is not supported (see SPEC.md, Regular expressions)")

    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = 0
    groups: list[bool] = []  # per open group: inside (?i:...)?
    prev_letter = ""  # the literal letter before, inside (?i:...): for the multi-character folds

    def read_escape(i: int) -> tuple[str, int]:
        """The escape at pattern[i] == '\\' -> (Python text, next index)."""
        if i + 1 >= n:
            raise refuse("a trailing backslash")
        c = pattern[i + 1]
        if c in "pP":
            m = re.match(r"\{(\^?)(\w+)\}", pattern[i + 2:])
            if not m or m.group(2) not in _PROPS:
                raise refuse(f"the class {pattern[i:i + 2 + (m.end() if m else 3)]!r}")
            negate = (c == "P") != bool(m.group(1))
            return ("N" if negate else "P") + m.group(2), i + 2 + m.end()
        if c in "sdwSDW":
            return ("N" if c.isupper() else "P") + _SHORT[c.lower()], i + 2
        if c.isdigit() and c != "0":
            raise refuse("backreferences")
        if c in _REFUSED:
            raise refuse(_REFUSED[c])
        if c == "x":
            m = re.match(r"[0-9a-fA-F]{2}|\{[0-9a-fA-F]{1,6}\}", pattern[i + 2:])
            if not m:
                raise refuse("this \\x escape")
            cp = int(m.group().strip("{}"), 16)
            return "C" + _esc(cp), i + 2 + m.end()
        if c == "u":
            m = re.match(r"[0-9a-fA-F]{4}", pattern[i + 2:])
            if not m:
                raise refuse("this \\u escape")
            return "C" + _esc(int(m.group(), 16)), i + 2 + 4
        if c in _PLAIN_ESCAPES:
            return "C" + ("\\" + c if c != "0" else "\\x00"), i + 2
        if not c.isascii() or not c.isalnum():
            return "C" + re.escape(c), i + 2
        raise refuse(f"the escape \\{c}")

    while i < n:
        c = pattern[i]
        icase = bool(groups) and groups[-1]
        if icase and (c in "[\\" or (c.isalpha() and not c.isascii())):
            raise refuse("classes, escapes and non-ASCII letters inside (?i:...)")
        if icase and c.isascii() and c.isalpha():
            pair = (prev_letter + c).lower()
            if pair in _MULTI_FOLDS:
                raise refuse(f"the letters {pair!r} inside (?i:...) (Oniguruma also matches one character that folds to them)")
            out.append(_FOLDS.get(c.lower(), f"[{c.lower()}{c.upper()}]"))
            prev_letter = c
            i += 1
            continue
        prev_letter = ""
        if in_class:
            if c == "]" and i > class_start:
                out.append("]")
                in_class = False
                i += 1
            elif c == "\\":
                kind, i = read_escape(i)
                if kind[0] == "P":
                    out.append(class_body(kind[1:]))
                elif kind[0] == "N":
                    raise refuse("a negated class inside [...]")
                else:
                    out.append(kind[1:])
            elif c == "[":
                raise refuse("nested classes and POSIX brackets inside [...]")
            elif c == "&" and pattern.startswith("&&", i):
                raise refuse("class intersection (&&)")
            else:
                out.append("\\" + c if c in "\\" else c)
                i += 1
            continue
        if c == "\\":
            kind, i = read_escape(i)
            if kind[0] == "P":
                out.append(f"[{class_body(kind[1:])}]")
            elif kind[0] == "N":
                out.append(f"[^{class_body(kind[1:])}]")
            else:
                out.append(kind[1:])
        elif c == "[":
            in_class = True
            out.append("[")
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            class_start = i  # a ']' right here is a literal, as in both engines
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
                class_start = i - 1
        elif c == "(":
            if pattern.startswith("(?i:", i):
                groups.append(True)
                out.append("(?:")
                i += 4
                continue
            groups.append(icase)
            if pattern.startswith("(?", i):
                head = pattern[i:i + 3]
                if head in ("(?:", "(?=", "(?!"):
                    out.append(head)
                    i += 3
                    continue
                raise refuse(f"the group {pattern[i:i + 4]!r} (lookbehind, atomic, named groups and inline flags other than (?i:)")
            out.append("(?:")  # no capture: split and replace never read groups, and findall needs none
            i += 1
        elif c == ")":
            if groups:
                groups.pop()
            out.append(c)
            i += 1
        elif c in "*+?}" and i + 1 < n and pattern[i + 1] == "+" and not (c == "+" and out and out[-1] == "+"):
            raise refuse("possessive quantifiers")
        else:
            out.append(c)
            i += 1
    if in_class:
        raise refuse("an unterminated [...]")
    text = "".join(out)
    try:
        re.compile(text, re.MULTILINE)
    except re.error as e:
        raise refuse(f"this pattern ({e})") from None
    return text


def compile_pattern(pattern: dict, ctx: Ctx):
    """tokenizer.json's ``{"String": s}`` / ``{"Regex": r}`` -> a compiled Python regex.

    Ruby syntax makes ``^`` and ``$`` line anchors, hence MULTILINE."""
    pattern = ctx.obj(pattern)
    if len(pattern) != 1 or next(iter(pattern)) not in ("String", "Regex"):
        kinds = ", ".join(f'"{k}"' for k in pattern) or "nothing"
        raise ctx.error(f"{kinds} is not supported; supported: String, Regex")
    if "String" in pattern:
        return re.compile(re.escape(ctx.get(pattern, "String", str)))
    return re.compile(translate(ctx.get(pattern, "Regex", str), ctx.at("Regex")), re.MULTILINE)
