"""The Tokenizer: a supported subset of Hugging Face tokenizer.json, in pure Python.

Pipeline (same order as tokenizers): added tokens (raw) -> normalizer -> added tokens (normalized)
-> pre-tokenizer -> model -> truncation -> post-processor -> padding. Offsets are code-point
indices into the input string. See SPEC.md next to this file for the documented subset.

``offsets=False`` takes the ids-only fast path: the same pipeline on plain strings, without the
alignment bookkeeping that offsets need (NormalizedString, spans). Ids, type ids, masks and tokens
are the same as the full path's; ``offsets`` is None. Components without a text-only method (none
today) send it back to the full path, so the answer never depends on what the fast path covers.
"""

from __future__ import annotations

import json
import os
import re

from edgepack.errors import TokenizerSpecError
from edgepack.runtime import files
from edgepack.runtime.tokenizer import added_vocab, decoders, models, normalizers, pre_tokenizers, processors
from edgepack.runtime.tokenizer._spec import INT_LIMIT, MAX_LENGTH, Ctx, _short
from edgepack.runtime.tokenizer.encoding import Encoding
from edgepack.runtime.tokenizer.normalized import NormalizedString

SUPPORTED_VERSIONS = ("1.0",)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def sanitize(text: str) -> str:
    """Lone surrogates cannot be UTF-8 encoded (the reference refuses them): each becomes U+FFFD,
    one code point for one, so offsets are unchanged. JS does the same (as TextEncoder would)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if text.isascii():  # the common case, without a regex scan
        return text
    return _SURROGATE_RE.sub("\ufffd", text) if _SURROGATE_RE.search(text) else text


def _has_fast(component, method: str) -> bool:
    """Does ``component`` (and every part of a Sequence) implement the fast path's ``method``?"""
    if component is None:
        return True
    return hasattr(component, method) and all(_has_fast(c, method) for c in getattr(component, "items", ()))


def _direction(value: str, what: str) -> str:
    v = str(value).capitalize()
    if v not in processors.DIRECTIONS:
        raise TokenizerSpecError(f"{what}: direction {value!r} is not supported; use 'right' or 'left'")
    return v


def _check_numbers(spec: dict, ctx: Ctx) -> None:
    """Ids in range and dense, lengths bounded: a corrupt or hostile number fails here, named by its
    JSON path, not as an OverflowError (int64 arrays) or an endless allocation later."""

    def check_id(value, c: Ctx, what: str = "") -> int | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None  # wrong types are reported by the component reader
        if not 0 <= value < INT_LIMIT:
            raise c.error(f"{what}must be a non-negative integer below 2**31, got {_short(value)}")
        return value

    ids: set[int] = set()
    model = spec.get("model")
    if isinstance(model, dict) and isinstance(model.get("vocab"), dict):
        vc = ctx.at("model").at("vocab")
        for token, value in model["vocab"].items():
            i = check_id(value, vc, f"id of {token[:40]!r} ")
            if i is not None:
                ids.add(i)
    added = spec.get("added_tokens")
    for k, tok in enumerate(added if isinstance(added, list) else []):
        if isinstance(tok, dict):
            i = check_id(tok.get("id"), ctx.at("added_tokens").at(k).at("id"))
            if i is not None:
                ids.add(i)
    post = spec.get("post_processor")
    if isinstance(post, dict):
        pc = ctx.at("post_processor")
        for key in ("sep", "cls"):  # BertProcessing: ["token", id]
            pair = post.get(key)
            if isinstance(pair, list) and len(pair) == 2:
                check_id(pair[1], pc.at(key).at(1))
        special = post.get("special_tokens")
        for name, entry in (special.items() if isinstance(special, dict) else ()):
            if isinstance(entry, dict) and isinstance(entry.get("ids"), list):
                for k, value in enumerate(entry["ids"]):
                    c = pc.at("special_tokens").at(name).at("ids").at(k)
                    if check_id(value, c) is None:
                        raise c.error("expected a token id (an integer)")
    if ids and max(ids) >= len(ids) + (1 << 16):
        raise ctx.at("model").at("vocab").error(
            f"ids are too sparse: the largest is {max(ids)} for {len(ids)} tokens (ids are rows of the model's "
            "embedding table; renumber them from 0)")
    for section, key in (("truncation", "max_length"), ("padding", "pad_to_multiple_of")):
        table = spec.get(section)
        if isinstance(table, dict):
            value = table.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_LENGTH:
                raise ctx.at(section).at(key).error(f"{_short(value)} is longer than the {MAX_LENGTH} tokens allowed")
    padding = spec.get("padding")
    if isinstance(padding, dict):
        fixed = padding.get("strategy")
        fixed = fixed.get("Fixed") if isinstance(fixed, dict) else None
        if isinstance(fixed, int) and not isinstance(fixed, bool) and not 0 <= fixed <= MAX_LENGTH:
            raise ctx.at("padding").at("strategy").at("Fixed").error(
                f"{_short(fixed)} must be between 0 and {MAX_LENGTH}")
        check_id(padding.get("pad_id"), ctx.at("padding").at("pad_id"))


class Tokenizer:
    def __init__(self, spec: dict, source: str = "tokenizer.json"):
        ctx = Ctx(source)
        spec = ctx.obj(spec)
        # Before any component reads the spec: the readers recurse (Sequence in Sequence) and
        # allocate by ids and lengths, so depth and numbers are checked once, up front.
        if files.nesting_depth(spec) > files.MAX_DEPTH:
            raise ctx.error(f"nested deeper than {files.MAX_DEPTH} levels; a tokenizer.json needs fewer than 10")
        version = spec.get("version")
        if version not in SUPPORTED_VERSIONS:
            if "version" not in spec:
                raise ctx.at("version").error('is missing; supported: "1.0"')
            shown = f'"{version}"' if isinstance(version, str) else _short(version) if isinstance(version, int) \
                else type(version).__name__ if isinstance(version, (dict, list)) else json.dumps(version)
            raise ctx.at("version").error(f'{shown} is not supported; supported: "1.0"')
        _check_numbers(spec, ctx)
        self.normalizer = normalizers.from_spec(spec.get("normalizer"), ctx.at("normalizer"))
        self.pre_tokenizer = pre_tokenizers.from_spec(spec.get("pre_tokenizer"), ctx.at("pre_tokenizer"))
        if "model" not in spec:
            raise ctx.at("model").error("is required")
        self.model = models.from_spec(spec["model"], ctx.at("model"))
        self.post_processor = processors.from_spec(spec.get("post_processor"), ctx.at("post_processor"))
        self.decoder = decoders.from_spec(spec.get("decoder"), ctx.at("decoder"))
        self.added = added_vocab.from_spec(ctx.get(spec, "added_tokens", list, [], nullable=True), ctx.at("added_tokens"),
                                           self.normalizer)
        self._truncation = processors.truncation_from_spec(spec.get("truncation"), ctx.at("truncation"))
        self._padding = processors.padding_from_spec(spec.get("padding"), ctx.at("padding"))
        self.source = source
        self._fast = (_has_fast(self.normalizer, "normalize_str") and _has_fast(self.pre_tokenizer, "words")
                      and hasattr(self.model, "add_words"))
        if self._truncation:
            self._check_stride(self._truncation, ctx.at("truncation"))

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path) -> "Tokenizer":
        """Regular files only (a FIFO or /dev/zero is refused before it is opened), at most
        files.TOKENIZER_LIMIT bytes."""
        name = os.fspath(path)
        raw = files.read_bytes(name, "cannot read tokenizer file", files.TOKENIZER_LIMIT, TokenizerSpecError)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TokenizerSpecError(f"{name}: not valid UTF-8 (byte {e.start}: {e.reason}); "
                                     "tokenizer.json must be UTF-8 encoded JSON") from None
        return cls.from_str(text, source=name)

    @classmethod
    def from_str(cls, json_text: str, source: str = "tokenizer.json") -> "Tokenizer":
        try:
            obj = json.loads(json_text.removeprefix("\ufeff"))
        except json.JSONDecodeError as e:
            raise TokenizerSpecError(f"{source}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
        except RecursionError:  # the C parser's own limit, hit before our depth check can run
            raise TokenizerSpecError(f"{source}: nested deeper than {files.MAX_DEPTH} levels; "
                                     "a tokenizer.json needs fewer than 10") from None
        except ValueError as e:  # an integer of more than 4,300 digits
            raise TokenizerSpecError(f"{source}: not valid JSON ({e})") from None
        return cls(obj, source)

    @classmethod
    def from_dict(cls, obj: dict, source: str = "tokenizer.json") -> "Tokenizer":
        return cls(obj, source)

    # ---- padding / truncation ------------------------------------------------------------------
    @property
    def padding(self):
        return dict(self._padding) if self._padding else None

    @property
    def truncation(self):
        return dict(self._truncation) if self._truncation else None

    def enable_padding(self, direction="right", pad_id=0, pad_type_id=0, pad_token="[PAD]", length=None,
                       pad_to_multiple_of=None):
        self._padding = {
            "strategy": {"Fixed": int(length)} if length is not None else "BatchLongest",
            "direction": _direction(direction, "enable_padding"),
            "pad_to_multiple_of": pad_to_multiple_of,
            "pad_id": int(pad_id),
            "pad_type_id": int(pad_type_id),
            "pad_token": str(pad_token),
        }

    def no_padding(self):
        self._padding = None

    def enable_truncation(self, max_length, stride=0, strategy="longest_first", direction="right"):
        names = {v: k for k, v in processors.STRATEGIES.items()}
        s = names.get(strategy, strategy)
        if s not in processors.STRATEGIES:
            raise TokenizerSpecError(f"enable_truncation: strategy {strategy!r} is not supported; "
                                     "use longest_first, only_first or only_second")
        params = {"direction": _direction(direction, "enable_truncation"), "max_length": int(max_length),
                  "strategy": s, "stride": int(stride)}
        if not 0 <= params["max_length"] <= MAX_LENGTH or not 0 <= params["stride"] <= MAX_LENGTH:
            raise TokenizerSpecError(f"enable_truncation: max_length {_short(params['max_length'])} and stride "
                                     f"{_short(params['stride'])} must be between 0 and {MAX_LENGTH}")
        self._check_stride(params, Ctx("enable_truncation"))
        self._truncation = params

    def no_truncation(self):
        self._truncation = None

    def _check_stride(self, params, ctx):
        added = self.post_processor.added_tokens(False) if self.post_processor else 0
        if params["max_length"] - added < params["stride"]:
            raise ctx.error(f"stride {params['stride']} is greater than the effective max length "
                            f"{params['max_length'] - added} (max_length - {added} special tokens)")

    # ---- vocabulary ----------------------------------------------------------------------------
    def token_to_id(self, token: str):
        t = self.added.by_content.get(token)
        return t.id if t is not None else self.model.vocab.get(token)

    def id_to_token(self, i: int):
        t = self.added.by_id.get(i)
        return t.content if t is not None else self.model.inv.get(i)

    def get_vocab(self, with_added_tokens=True) -> dict[str, int]:
        v = dict(self.model.vocab)
        if with_added_tokens:
            v.update({t.content: t.id for t in self.added.tokens})
        return v

    def get_vocab_size(self, with_added_tokens=True) -> int:
        return len(self.get_vocab(with_added_tokens))

    # ---- encoding ------------------------------------------------------------------------------
    def _encode_sequence(self, text: str, type_id: int) -> Encoding:
        text = sanitize(text)
        ids, tokens, offsets = [], [], []
        for piece, tok in self.added.split(NormalizedString(text), normalized=False):
            if tok is not None:
                ids.append(tok.id)
                tokens.append(piece.text)
                offsets.append(piece.original_span(0, len(piece)))
                continue
            if self.normalizer is not None:
                self.normalizer.normalize(piece)
            if not piece.text:
                continue
            for sub, tok2 in self.added.split(piece, normalized=True):
                if not sub.text:
                    continue
                if tok2 is not None:
                    ids.append(tok2.id)
                    tokens.append(sub.text)
                    offsets.append(sub.original_span(0, len(sub)))
                    continue
                text_n, align = sub.text, sub.align
                tokenize = self.model.tokenize
                if getattr(self.pre_tokenizer, "transforms", False):
                    # ByteLevel / Metaspace change characters: each word maps its characters back.
                    for word, pos in pre_tokenizers.pieces(self.pre_tokenizer, text_n, list(range(len(text_n))), align):
                        for i, t, s, e in tokenize(word):
                            ids.append(i)
                            tokens.append(t)
                            offsets.append((align[pos[s]][0], align[pos[e - 1]][1]))
                    continue
                spans = self.pre_tokenizer.split(text_n, 0, len(text_n)) if self.pre_tokenizer else [(0, len(text_n))]
                for a, b in spans:
                    for i, t, s, e in tokenize(text_n[a:b]):
                        ids.append(i)
                        tokens.append(t)
                        offsets.append((align[a + s][0], align[a + e - 1][1]))
        n = len(ids)
        return Encoding(ids, [type_id] * n, tokens, offsets, [1] * n, [0] * n)

    def _encode_sequence_fast(self, text: str, type_id: int) -> Encoding:
        """_encode_sequence's ids and tokens, step for step, on plain strings (no offsets)."""
        text = sanitize(text)
        ids: list[int] = []
        tokens: list[str] = []
        spans = self.added.spans(text, False)
        if spans is None:  # no raw added token in the text: one stretch
            self._add_stretch_fast(text, ids, tokens)
        else:
            for a, b, tok in spans:
                if tok is not None:
                    ids.append(tok.id)
                    tokens.append(text[a:b])
                else:
                    self._add_stretch_fast(text[a:b], ids, tokens)
        return Encoding.ids_only(ids, type_id, tokens)

    def _add_stretch_fast(self, piece: str, ids: list[int], tokens: list[str]) -> None:
        """A stretch between raw added tokens: normalizer, normalized added tokens, pre-tokenizer, model."""
        if self.normalizer is not None:
            piece = self.normalizer.normalize_str(piece)
        if not piece:
            return
        pre_tokenizer, add_words = self.pre_tokenizer, self.model.add_words
        spans = self.added.spans(piece, True)
        if spans is None:
            add_words(pre_tokenizer.words(piece) if pre_tokenizer is not None else [piece], ids, tokens)
            return
        for s, e, tok in spans:
            if s == e:
                continue
            sub = piece[s:e]
            if tok is not None:
                ids.append(tok.id)
                tokens.append(sub)
            else:
                add_words(pre_tokenizer.words(sub) if pre_tokenizer is not None else [sub], ids, tokens)

    def _post_process(self, a: Encoding, b: Encoding | None, add_special_tokens: bool) -> Encoding:
        if self._truncation:
            added = self.post_processor.added_tokens(b is not None) if (self.post_processor and add_special_tokens) else 0
            processors.truncate(a, b, self._truncation, added)
        if self.post_processor is not None:
            out = self.post_processor.process(a, b, add_special_tokens)
        else:
            out = processors._default(a, b)
        if self._padding:
            processors.pad_batch([out], self._padding)
        return out

    def encode(self, text: str, pair: str | None = None, add_special_tokens: bool = True,
               offsets: bool = True) -> Encoding:
        """``offsets=False``: ids-only fast path, same ids/type ids/masks/tokens, ``offsets`` None."""
        if offsets or not self._fast:
            a = self._encode_sequence(text, 0)
            b = self._encode_sequence(pair, 1) if pair is not None else None
        else:
            a = self._encode_sequence_fast(text, 0)
            b = self._encode_sequence_fast(pair, 1) if pair is not None else None
        out = self._post_process(a, b, add_special_tokens)
        if not offsets:
            out.offsets = None
        return out

    def encode_batch(self, inputs, add_special_tokens: bool = True, offsets: bool = True) -> list[Encoding]:
        out = []
        if not offsets and self._fast:
            # encode()'s fast branch, inlined: at batch 32 the per-item call overhead shows.
            seq, post = self._encode_sequence_fast, self._post_process
            for item in inputs:
                if isinstance(item, (tuple, list)):
                    if len(item) != 2:
                        raise TypeError("encode_batch: a pair must be a (text, pair) tuple")
                    e = post(seq(item[0], 0), seq(item[1], 1) if item[1] is not None else None, add_special_tokens)
                else:
                    e = post(seq(item, 0), None, add_special_tokens)
                e.offsets = None
                out.append(e)
        else:
            for item in inputs:
                if isinstance(item, (tuple, list)):
                    if len(item) != 2:
                        raise TypeError("encode_batch: a pair must be a (text, pair) tuple")
                    out.append(self.encode(item[0], item[1], add_special_tokens, offsets))
                else:
                    out.append(self.encode(item, None, add_special_tokens, offsets))
        if self._padding:
            processors.pad_batch(out, self._padding)
        return out

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        tokens = []
        for i in ids:
            t = self.id_to_token(i)
            if t is None or (skip_special_tokens and t in self.added.special):
                continue
            tokens.append(t)
        if self.decoder is not None:
            return self.decoder.decode(tokens)
        return " ".join(tokens)

    def decode_batch(self, sequences, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(s, skip_special_tokens) for s in sequences]
