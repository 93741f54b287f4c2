"""Reading tokenizer.json values with errors that name the file and the JSON path."""

from __future__ import annotations

from edgepack.errors import TokenizerSpecError

# Every integer in a spec (ids, lengths, strides, type ids) is far below this; a larger one is a
# corrupt or hostile file, and would overflow int64 arrays or allocate without end downstream.
INT_LIMIT = 1 << 31
# Longest sequence a spec may ask for (truncation max_length, fixed padding); edgepack.toml's
# max_length has the same bound. Far above any text model's position table.
MAX_LENGTH = 1 << 16
# A message quotes the value at fault; a 60 MiB token string is cut, not printed.
_MESSAGE_LIMIT = 600


class Ctx:
    """Where we are in the document: ``source`` (file name) and a JSON path like ``normalizer.normalizers[1]``."""

    __slots__ = ("source", "path")

    def __init__(self, source: str, path: str = ""):
        self.source = source
        self.path = path

    def at(self, key) -> "Ctx":
        if isinstance(key, int):
            return Ctx(self.source, f"{self.path}[{key}]")
        return Ctx(self.source, f"{self.path}.{key}" if self.path else str(key))

    def error(self, msg: str) -> TokenizerSpecError:
        if len(msg) > _MESSAGE_LIMIT:
            msg = msg[:_MESSAGE_LIMIT] + "... (cut)"
        where = f"{self.source}: {self.path}" if self.path else self.source
        # `path "Value" is not supported` / `path is required` read as one phrase; others follow a colon.
        sep = " " if (msg.startswith('"') or msg.startswith("is ")) and self.path else ": "
        return TokenizerSpecError(f"{where}{sep}{msg}")

    def obj(self, value) -> dict:
        if not isinstance(value, dict):
            raise self.error(f"expected an object, got {_kind(value)}")
        return value

    def get(self, obj: dict, key: str, kind, default=..., nullable=False):
        """obj[key] checked against ``kind`` (a type or tuple of types); ``default`` when absent."""
        if key not in obj:
            if default is ...:
                raise self.at(key).error("is required")
            return default
        v = obj[key]
        if v is None and nullable:
            return None
        # bool is an int in Python; JSON true is never a valid count.
        if not isinstance(v, kind) or (kind in (int, (int,)) and isinstance(v, bool)):
            raise self.at(key).error(f"expected {_kind_name(kind)}, got {_kind(v)}")
        if isinstance(v, int) and not isinstance(v, bool) and not -INT_LIMIT < v < INT_LIMIT:
            raise self.at(key).error(f"{_short(v)} is out of range (integers must be between -2**31 and 2**31)")
        return v

    def type_of(self, obj: dict, supported) -> str:
        t = obj.get("type")
        if t not in supported:
            shown = f'"{t}"' if isinstance(t, str) else _kind(t) if "type" in obj else "missing"
            raise self.at("type").error(f"{shown} is not supported; supported: {', '.join(supported)}")
        return t


def _short(v) -> str:
    """An integer as shown in an error: a 10,000-digit number is described, not printed (str() of
    one over 4,300 digits raises ValueError)."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10 ** 15:
        return f"{'-' if v < 0 else ''}a number of about {int(abs(v).bit_length() * 0.30103) + 1} digits"
    return repr(v)


def _kind(v) -> str:
    if v is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array", dict: "an object"}.get(
        type(v), type(v).__name__)


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
                        dict: "an object"}.get(k, k.__name__) for k in kinds)
