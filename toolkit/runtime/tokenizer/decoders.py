"""Decoders: tokens -> text. Each has ``decode_chain(tokens) -> tokens`` (the reference's chain, so a
Sequence feeds one into the next) and ``decode(tokens) -> str`` (the chain, joined)."""

from __future__ import annotations

from edgepack.runtime.tokenizer import _regex
from edgepack.runtime.tokenizer._spec import Ctx
from edgepack.runtime.tokenizer.byte_level import ByteLevelDecoder
from edgepack.runtime.tokenizer.metaspace import SCHEMES, MetaspaceDecoder

_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
            (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def cleanup(s: str) -> str:
    for a, b in _CLEANUP:
        s = s.replace(a, b)
    return s


class _Decoder:
    def decode(self, tokens: list[str]) -> str:
        return "".join(self.decode_chain(list(tokens)))


class WordPieceDecoder(_Decoder):
    def __init__(self, prefix="##", cleanup=True):
        self.prefix, self.cleanup = prefix, cleanup

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out = []
        for i, t in enumerate(tokens):
            if i:
                t = t.replace(self.prefix, "", 1) if t.startswith(self.prefix) else " " + t
            out.append(cleanup(t) if self.cleanup else t)
        return out


class BPEDecoder(_Decoder):
    def __init__(self, suffix="</w>"):
        self.suffix = suffix

    def decode_chain(self, tokens):
        n = len(tokens)
        return [t.replace(self.suffix, "" if k == n - 1 else " ") for k, t in enumerate(tokens)]


class ByteFallback(_Decoder):
    """Runs of ``<0xXX>`` tokens become their UTF-8 text; an invalid run gives one U+FFFD per byte."""

    def decode_chain(self, tokens):
        out, run = [], bytearray()

        def flush():
            if run:
                try:
                    out.append(run.decode("utf-8"))
                except UnicodeDecodeError:
                    out.extend("\ufffd" for _ in run)
                run.clear()

        for t in tokens:
            if len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
                try:
                    run.append(int(t[3:5], 16))
                    continue
                except ValueError:
                    pass
            flush()
            out.append(t)
        flush()
        return out


class Fuse(_Decoder):
    def decode_chain(self, tokens):
        return ["".join(tokens)]


class Strip(_Decoder):
    def __init__(self, content: str, start: int, stop: int):
        self.content, self.start, self.stop = content, start, stop

    def decode_chain(self, tokens):
        out = []
        for t in tokens:
            a, b = 0, len(t)
            while a < min(self.start, b) and t[a] == self.content:
                a += 1
            k = 0
            while k < self.stop and b > a and t[b - 1] == self.content:
                b -= 1
                k += 1
            out.append(t[a:b])
        return out


class Replace(_Decoder):
    def __init__(self, regex, content: str):
        self.regex, self.content = regex, content

    def decode_chain(self, tokens):
        content = self.content
        return [self.regex.sub(lambda m: content if m.end() > m.start() else "", t) for t in tokens]


class Sequence(_Decoder):
    def __init__(self, items):
        self.items = items

    def decode_chain(self, tokens):
        for d in self.items:
            tokens = d.decode_chain(tokens)
        return tokens


class _ByteLevel(ByteLevelDecoder, _Decoder):
    pass


class _Metaspace(MetaspaceDecoder, _Decoder):
    pass


SUPPORTED = ("WordPiece", "ByteLevel", "Metaspace", "BPEDecoder", "ByteFallback", "Fuse", "Strip", "Replace",
             "Sequence")


def from_spec(obj, ctx: Ctx):
    if obj is None:
        return None
    obj = ctx.obj(obj)
    t = ctx.type_of(obj, SUPPORTED)
    if t == "WordPiece":
        return WordPieceDecoder(ctx.get(obj, "prefix", str, "##"), ctx.get(obj, "cleanup", bool, True))
    if t == "ByteLevel":
        return _ByteLevel()
    if t == "Metaspace":
        scheme = ctx.get(obj, "prepend_scheme", str, "always")
        if scheme not in SCHEMES:
            raise ctx.at("prepend_scheme").error(f'"{scheme}" is not supported; supported: {", ".join(SCHEMES)}')
        if ctx.get(obj, "add_prefix_space", bool, None, nullable=True) is False:
            scheme = "never"
        return _Metaspace(ctx.get(obj, "replacement", str, "\u2581"), scheme)
    if t == "BPEDecoder":
        return BPEDecoder(ctx.get(obj, "suffix", str, "</w>"))
    if t == "ByteFallback":
        return ByteFallback()
    if t == "Fuse":
        return Fuse()
    if t == "Strip":
        return Strip(ctx.get(obj, "content", str), ctx.get(obj, "start", int, 0), ctx.get(obj, "stop", int, 0))
    if t == "Replace":
        pat = ctx.obj(ctx.get(obj, "pattern", dict))
        return Replace(_regex.compile_pattern(pat, ctx.at("pattern")), ctx.get(obj, "content", str))
    items = ctx.get(obj, "decoders", list)
    return Sequence([from_spec(ctx.obj(x), ctx.at("decoders").at(i)) for i, x in enumerate(items)])
