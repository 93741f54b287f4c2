"""The result of encoding one input (or one pair), as HF's ``Encoding``.

An ids-only encoding (``Tokenizer.encode(..., offsets=False)``) has ``offsets = None``: the runtime
never reads offsets, so the fast path does not compute them. Every method below leaves a ``None``
field ``None`` (extending by or with an ids-only encoding gives ``None`` offsets).
"""

from __future__ import annotations


class Encoding:
    __slots__ = ("ids", "type_ids", "tokens", "offsets", "attention_mask", "special_tokens_mask")

    def __init__(self, ids=None, type_ids=None, tokens=None, offsets=None, attention_mask=None,
                 special_tokens_mask=None):
        self.ids: list[int] = ids if ids is not None else []
        self.type_ids: list[int] = type_ids if type_ids is not None else []
        self.tokens: list[str] = tokens if tokens is not None else []
        self.offsets: list[tuple[int, int]] = offsets if offsets is not None else []
        self.attention_mask: list[int] = attention_mask if attention_mask is not None else [1] * len(self.ids)
        self.special_tokens_mask: list[int] = (special_tokens_mask if special_tokens_mask is not None
                                               else [0] * len(self.ids))

    @classmethod
    def ids_only(cls, ids: list[int], type_id: int, tokens: list[str]) -> "Encoding":
        n = len(ids)
        e = cls.__new__(cls)  # skips __init__'s defaults: this runs once per text on the runtime's path
        e.ids, e.type_ids, e.tokens, e.offsets = ids, [type_id] * n, tokens, None
        e.attention_mask, e.special_tokens_mask = [1] * n, [0] * n
        return e

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Encoding(num_tokens={len(self.ids)}, tokens={self.tokens!r})"

    def to_dict(self) -> dict:
        """The CLI / golden-file form."""
        return {
            "ids": list(self.ids),
            "attention_mask": list(self.attention_mask),
            "token_type_ids": list(self.type_ids),
            "special_tokens_mask": list(self.special_tokens_mask),
            "tokens": list(self.tokens),
            "offsets": [list(o) for o in self.offsets] if self.offsets is not None else None,
        }

    def extend(self, other: "Encoding") -> None:
        for name in self.__slots__:
            v, w = getattr(self, name), getattr(other, name)
            if v is None or w is None:
                setattr(self, name, None)
            else:
                v.extend(w)

    def truncate(self, max_len: int, direction: str) -> None:
        if len(self.ids) <= max_len:
            return
        for name in self.__slots__:
            v = getattr(self, name)
            if v is None:
                continue
            setattr(self, name, v[:max_len] if direction == "Right" else v[len(v) - max_len:] if max_len else [])

    def pad(self, length: int, pad_id: int, pad_type_id: int, pad_token: str, direction: str) -> None:
        n = length - len(self.ids)
        if n <= 0:
            return
        fill = {"ids": [pad_id] * n, "type_ids": [pad_type_id] * n, "tokens": [pad_token] * n,
                "offsets": [(0, 0)] * n, "attention_mask": [0] * n, "special_tokens_mask": [1] * n}
        for name in self.__slots__:
            v = getattr(self, name)
            if v is None:
                continue
            setattr(self, name, v + fill[name] if direction == "Right" else fill[name] + v)
