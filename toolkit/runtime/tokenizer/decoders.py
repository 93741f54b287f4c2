"""Decoders: tokens -> text."""

from __future__ import annotations

from edgepack.runtime.tokenizer._spec import Ctx

_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
            (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def cleanup(s: str) -> str:
    for a, b in _CLEANUP:
        s = s.replace(a, b)
    return s


class WordPieceDecoder:
    def __init__(self, prefix="##", cleanup=True):
        self.prefix, self.cleanup = prefix, cleanup

    def decode(self, tokens: list[str]) -> str:
        out = []
        for i, t in enumerate(tokens):
            if i:
                t = t.replace(self.prefix, "", 1) if t.startswith(self.prefix) else " " + t
            out.append(cleanup(t) if self.cleanup else t)
        return "".join(out)


SUPPORTED = ("WordPiece",)


def from_spec(obj, ctx: Ctx):
    if obj is None:
        return None
    obj = ctx.obj(obj)
    ctx.type_of(obj, SUPPORTED)
    return WordPieceDecoder(ctx.get(obj, "prefix", str, "##"), ctx.get(obj, "cleanup", bool, True))
