"""Post-processors (special tokens, type ids), truncation and padding -- HF semantics."""

from __future__ import annotations

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.tokenizer import byte_level
from edgepack.runtime.tokenizer._spec import Ctx
from edgepack.runtime.tokenizer.encoding import Encoding


def _special(ids, tokens, type_id):
    n = len(ids)
    return Encoding(list(ids), [type_id] * n, list(tokens), [(0, 0)] * n, [1] * n, [1] * n)


class BertProcessing:
    def __init__(self, sep, cls):
        self.sep, self.cls = sep, cls  # (token, id)

    def added_tokens(self, is_pair: bool) -> int:
        return 3 if is_pair else 2

    def process(self, a: Encoding, b: Encoding | None, add_special_tokens: bool) -> Encoding:
        if not add_special_tokens:
            return _default(a, b)
        out = _special([self.cls[1]], [self.cls[0]], 0)
        a.type_ids = [0] * len(a)
        out.extend(a)
        out.extend(_special([self.sep[1]], [self.sep[0]], 0))
        if b is not None:
            b.type_ids = [1] * len(b)
            out.extend(b)
            out.extend(_special([self.sep[1]], [self.sep[0]], 1))
        return out


class TemplateProcessing:
    def __init__(self, single, pair, special_tokens):
        self.single, self.pair, self.special = single, pair, special_tokens

    def added_tokens(self, is_pair: bool) -> int:
        tpl = self.pair if is_pair else self.single
        return sum(len(self.special[i][0]) for kind, i, _ in tpl if kind == "SpecialToken")

    def process(self, a, b, add_special_tokens):
        tpl = self.pair if b is not None else self.single
        out = Encoding()
        for kind, ident, type_id in tpl:
            if kind == "Sequence":
                enc = a if ident == "A" else b
                if enc is None:
                    continue
                enc.type_ids = [type_id] * len(enc)
                out.extend(enc)
            elif add_special_tokens:
                ids, tokens = self.special[ident]
                out.extend(_special(ids, tokens, type_id))
        return out


class RobertaProcessing:
    """``<s> A </s>`` / ``<s> A </s> </s> B </s>``; every type id 0 (RoBERTa has one segment)."""

    def __init__(self, sep, cls, trim_offsets=True, add_prefix_space=True):
        self.sep, self.cls = sep, cls
        self.trim_offsets, self.add_prefix_space = trim_offsets, add_prefix_space

    def added_tokens(self, is_pair: bool) -> int:
        return 4 if is_pair else 2

    def process(self, a: Encoding, b: Encoding | None, add_special_tokens: bool) -> Encoding:
        for e in (a, b):
            if e is None:
                continue
            if self.trim_offsets and e.offsets is not None:
                byte_level.trim_offsets(e.tokens, e.offsets, self.add_prefix_space)
            e.type_ids = [0] * len(e)
        if not add_special_tokens:
            return _default(a, b)
        out = _special([self.cls[1]], [self.cls[0]], 0)
        out.extend(a)
        out.extend(_special([self.sep[1]], [self.sep[0]], 0))
        if b is not None:
            out.extend(_special([self.sep[1]], [self.sep[0]], 0))
            out.extend(b)
            out.extend(_special([self.sep[1]], [self.sep[0]], 0))
        return out


class ByteLevelProcessing:
    """Adds nothing; trims the spaces out of byte-level tokens' offsets."""

    def __init__(self, trim_offsets=True, add_prefix_space=True):
        self.trim_offsets, self.add_prefix_space = trim_offsets, add_prefix_space

    def added_tokens(self, is_pair: bool) -> int:
        return 0

    def trim(self, a, b):
        for e in (a, b):
            if e is not None and self.trim_offsets and e.offsets is not None:
                byte_level.trim_offsets(e.tokens, e.offsets, self.add_prefix_space)

    def process(self, a, b, add_special_tokens):
        self.trim(a, b)
        return _default(a, b)


class Sequence:
    """Each processor in turn on the list of encodings the one before left, merged at the end (the
    reference's Sequence): ByteLevel trims each piece, a special-token processor joins them."""

    def __init__(self, items):
        self.items = items

    def added_tokens(self, is_pair: bool) -> int:
        return sum(p.added_tokens(is_pair) for p in self.items)

    def process(self, a, b, add_special_tokens):
        encs = [a] if b is None else [a, b]
        for p in self.items:
            if isinstance(p, ByteLevelProcessing):
                p.trim(encs[0], encs[1] if len(encs) > 1 else None)  # the pieces stay apart
            else:
                encs = [p.process(encs[0], encs[1] if len(encs) > 1 else None, add_special_tokens)]
        return _default(encs[0], encs[1] if len(encs) > 1 else None)


def _default(a, b):
    if b is None:
        return a
    a.extend(b)
    return a


def _template(value, ctx: Ctx, special):
    if isinstance(value, str):
        raise ctx.error("template strings are not supported here; use the serialized list form "
                        '(as tokenizers writes it: [{"SpecialToken": ...}, {"Sequence": ...}])')
    items = []
    for i, piece in enumerate(ctx.get({"v": value}, "v", list)):
        pctx = ctx.at(i)
        piece = pctx.obj(piece)
        if "Sequence" in piece:
            p = pctx.obj(piece["Sequence"])
            ident = pctx.at("Sequence").get(p, "id", str)
            if ident not in ("A", "B"):
                raise pctx.at("Sequence").at("id").error(f'"{ident}" must be "A" or "B"')
            items.append(("Sequence", ident, pctx.at("Sequence").get(p, "type_id", int, 0)))
        elif "SpecialToken" in piece:
            p = pctx.obj(piece["SpecialToken"])
            ident = pctx.at("SpecialToken").get(p, "id", str)
            if ident not in special:
                raise pctx.error(f'special token "{ident}" is not in post_processor.special_tokens')
            items.append(("SpecialToken", ident, pctx.at("SpecialToken").get(p, "type_id", int, 0)))
        else:
            raise pctx.error('expected {"Sequence": ...} or {"SpecialToken": ...}')
    return items


SUPPORTED = ("BertProcessing", "TemplateProcessing", "RobertaProcessing", "ByteLevel", "Sequence")


def from_spec(obj, ctx: Ctx):
    if obj is None:
        return None
    obj = ctx.obj(obj)
    t = ctx.type_of(obj, SUPPORTED)

    def pair(key, default=...):
        v = ctx.get(obj, key, list, default)
        if len(v) != 2 or not isinstance(v[0], str) or not isinstance(v[1], int) or isinstance(v[1], bool):
            raise ctx.at(key).error('expected ["token", id]')
        return (v[0], v[1])

    if t == "BertProcessing":
        return BertProcessing(pair("sep"), pair("cls"))
    if t == "RobertaProcessing":
        return RobertaProcessing(pair("sep", ["</s>", 2]), pair("cls", ["<s>", 0]),
                                 ctx.get(obj, "trim_offsets", bool, True), ctx.get(obj, "add_prefix_space", bool, True))
    if t == "ByteLevel":
        return ByteLevelProcessing(ctx.get(obj, "trim_offsets", bool, True), ctx.get(obj, "add_prefix_space", bool, True))
    if t == "Sequence":
        items = ctx.get(obj, "processors", list)
        return Sequence([from_spec(ctx.obj(x), ctx.at("processors").at(i)) for i, x in enumerate(items)])
    special = {}
    sctx = ctx.at("special_tokens")
    for name, spec in ctx.get(obj, "special_tokens", dict, {}).items():
        spec = sctx.obj(spec)
        ids = sctx.at(name).get(spec, "ids", list)
        tokens = sctx.at(name).get(spec, "tokens", list)
        if len(ids) != len(tokens):
            raise sctx.at(name).error("ids and tokens must have the same length")
        special[name] = (ids, tokens)
    return TemplateProcessing(_template(obj.get("single"), ctx.at("single"), special),
                              _template(obj.get("pair"), ctx.at("pair"), special), special)


# ---- truncation -----------------------------------------------------------------------------------

STRATEGIES = {"LongestFirst": "longest_first", "OnlyFirst": "only_first", "OnlySecond": "only_second"}
DIRECTIONS = ("Right", "Left")


def truncate(a: Encoding, b: Encoding | None, params: dict, added: int) -> None:
    max_length = params["max_length"] - added
    if max_length < 0:
        raise TokenizerSpecError(f"truncation.max_length {params['max_length']} is smaller than the {added} "
                                 "special tokens the post_processor adds; raise it")
    direction = params["direction"]
    if max_length == 0:
        a.truncate(0, direction)
        if b is not None:
            b.truncate(0, direction)
        return
    total = len(a) + (len(b) if b is not None else 0)
    if total <= max_length:
        return
    to_remove = total - max_length
    strategy = params["strategy"]
    if strategy == "LongestFirst":
        if b is None:
            a.truncate(total - to_remove, direction)
            return
        n1, n2 = len(a), len(b)
        swap = n1 > n2
        if swap:
            n1, n2 = n2, n1
        n2 = n1 if n1 > max_length else max(n1, max_length - n1)
        if n1 + n2 > max_length:
            n1 = max_length // 2
            n2 = n1 + max_length % 2
        if swap:
            n1, n2 = n2, n1
        a.truncate(n1, direction)
        b.truncate(n2, direction)
        return
    if strategy == "OnlyFirst":
        target = a
    else:
        if b is None:
            raise TokenizerSpecError("truncation strategy OnlySecond needs a pair; encode a pair or use LongestFirst")
        target = b
    if len(target) > to_remove:
        target.truncate(len(target) - to_remove, direction)
    else:
        raise TokenizerSpecError(
            f"truncation: the sequence to truncate ({strategy}) is too short to respect max_length "
            f"{params['max_length']}; use LongestFirst or a larger max_length")


def pad_batch(encodings: list[Encoding], params: dict) -> None:
    if not encodings:
        return
    strategy = params["strategy"]
    if isinstance(strategy, dict):
        length = strategy["Fixed"]
    else:
        length = max(len(e) for e in encodings)
    multiple = params.get("pad_to_multiple_of")
    if multiple and length % multiple:
        length += multiple - length % multiple
    for e in encodings:
        e.pad(length, params["pad_id"], params["pad_type_id"], params["pad_token"], params["direction"])


def truncation_from_spec(obj, ctx: Ctx):
    if obj is None:
        return None
    obj = ctx.obj(obj)
    out = {
        "direction": ctx.get(obj, "direction", str, "Right"),
        "max_length": ctx.get(obj, "max_length", int),
        "strategy": ctx.get(obj, "strategy", str, "LongestFirst"),
        "stride": ctx.get(obj, "stride", int, 0),
    }
    if out["direction"] not in DIRECTIONS:
        raise ctx.at("direction").error(f'"{out["direction"]}" is not supported; supported: Right, Left')
    if out["strategy"] not in STRATEGIES:
        raise ctx.at("strategy").error(f'"{out["strategy"]}" is not supported; supported: {", ".join(STRATEGIES)}')
    if out["max_length"] < 0 or out["stride"] < 0:
        raise ctx.at("max_length").error("max_length and stride must be >= 0")
    return out


def padding_from_spec(obj, ctx: Ctx):
    if obj is None:
        return None
    obj = ctx.obj(obj)
    strategy = obj.get("strategy", "BatchLongest")
    if not (strategy == "BatchLongest" or (isinstance(strategy, dict) and set(strategy) == {"Fixed"}
                                           and isinstance(strategy["Fixed"], int) and strategy["Fixed"] >= 0)):
        raise ctx.at("strategy").error(f'{strategy!r} is not supported; supported: "BatchLongest", {{"Fixed": n}}')
    out = {
        "strategy": strategy,
        "direction": ctx.get(obj, "direction", str, "Right"),
        "pad_to_multiple_of": ctx.get(obj, "pad_to_multiple_of", int, None, nullable=True),
        "pad_id": ctx.get(obj, "pad_id", int, 0),
        "pad_type_id": ctx.get(obj, "pad_type_id", int, 0),
        "pad_token": ctx.get(obj, "pad_token", str, "[PAD]"),
    }
    if out["direction"] not in DIRECTIONS:
        raise ctx.at("direction").error(f'"{out["direction"]}" is not supported; supported: Right, Left')
    return out
