"""Seeded mutations: bytes (truncation, bit flips, garbage, empty), JSON and TOML structure (wrong
types, huge numbers, deep nesting, typos), and file-system specials (FIFO, device, socket,
directory, symlink out, ``..``, names too long for the file system)."""

from __future__ import annotations

import copy
import json
import os
import random
import socket
from pathlib import Path

HUGE_INTS = [2 ** 31, 2 ** 32, 2 ** 63 - 1, 2 ** 64, -(2 ** 63), 10 ** 30, -1, 0, 10 ** 400]
DIGITS_5000 = "9" * 5000  # more digits than int() converts by default (ValueError, not JSONDecodeError)


def nested_list(depth: int, leaf=1):
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def nested_text(depth: int, kind: str = "[") -> str:
    """Deep nesting as text (built without recursion: json.dumps of it would hit the limit itself)."""
    if kind == "[":
        return "[" * depth + "1" + "]" * depth
    if kind == "{":  # TOML inline tables / JSON objects
        return '{"a": ' * depth + "1" + "}" * depth
    return "{ a = " * depth + "1" + " }" * depth  # TOML


def values(rng: random.Random) -> object:
    """One value of any JSON/TOML type, biased to the ones that broke things before."""
    pool = [
        lambda: rng.choice(HUGE_INTS[:-1]),  # 10**400 only where the format allows it
        lambda: rng.choice([1.5, -0.0, 1e308, float("nan"), float("inf"), float("-inf")]),
        lambda: rng.choice([True, False]),
        lambda: rng.choice(["", "x", "auto", "fp32", "int8", "3.11", "3.12", "é👍🏽", "\u0000", "a" * 20000]),
        lambda: rng.choice([[], ["a"], [1], [[1]], ["3.11", "3.13"], ["", ""]]),
        lambda: rng.choice([{}, {"a": 1}, {"precision": "int8"}, {"precison": "int8"}, {"pyhton": ["3.11"]},
                            {"python": "3.11"}, {"python": [3.11]}]),
        lambda: nested_list(rng.choice([5, 70, 200])),
    ]
    return rng.choice(pool)()


# ---- bytes --------------------------------------------------------------------------------------

def mutate_bytes(data: bytes, rng: random.Random, focus: int | None = None) -> tuple[str, bytes]:
    """(operation, mutated bytes). ``focus``: mutate within the first ``focus`` bytes most of the
    time (a file's header, where a flip changes the structure rather than a weight)."""
    n = len(data)

    def pos():
        if focus and rng.random() < 0.85:
            return rng.randrange(max(1, min(n, focus)))
        return rng.randrange(max(1, n))

    op = rng.choice(["truncate", "truncate", "bitflip", "bitflip", "bitflip", "garbage", "insert", "empty",
                     "zero", "duplicate", "byte"])
    if op == "empty" or n == 0:
        return "empty", b""
    if op == "truncate":
        return "truncate", data[:pos()]
    if op == "bitflip":
        b = bytearray(data)
        k = rng.choice([1, 1, 2, 4, 16])
        for _ in range(k):
            i = pos()
            b[i] ^= 1 << rng.randrange(8)
        return f"bitflip x{k}", bytes(b)
    if op == "byte":  # a structural byte: quote, bracket, brace, NUL, high bit
        b = bytearray(data)
        b[pos()] = rng.choice(b'"[]{}:,\\\x00\xff\n=')
        return "byte", bytes(b)
    if op == "garbage":
        i = pos()
        k = rng.randrange(1, 64)
        return "garbage", data[:i] + rng.randbytes(k) + data[i + k:]
    if op == "insert":
        i = pos()
        return "insert", data[:i] + rng.randbytes(rng.randrange(1, 64)) + data[i:]
    if op == "zero":
        i = pos()
        k = rng.randrange(1, 64)
        return "zero", data[:i] + bytes(min(k, n - i)) + data[i + k:]
    return "duplicate", data + data


# ---- JSON structure -----------------------------------------------------------------------------

def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value):
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def mutate_json(doc, rng: random.Random) -> tuple[str, object]:
    """(operation, mutated copy): a random node replaced, removed, or a key added."""
    doc = copy.deepcopy(doc)
    paths = [p for p in _paths(doc) if p]
    path = rng.choice(paths)
    op = rng.choice(["replace", "replace", "replace", "delete", "add"])
    if op == "delete":
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        del parent[path[-1]]
        return f"delete {_show(path)}", doc
    if op == "add":
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        if isinstance(parent, dict):
            parent[rng.choice(["type", "ids", "id", "unknown", "vocab", "max_length"])] = values(rng)
            return f"add key under {_show(path[:-1])}", doc
        if isinstance(parent, list):
            parent.append(values(rng))
            return f"append to {_show(path[:-1])}", doc
    v = values(rng)
    _set(doc, path, v)
    return f"replace {_show(path)} with {type(v).__name__}", doc


def _show(path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


# ---- file-system specials -----------------------------------------------------------------------

SPECIALS = ("directory", "fifo", "dev_zero", "socket", "symlink_out", "dotdot", "absolute", "long_name",
            "long_path", "nul", "empty", "symlink_loop", "missing")


def make_special(kind: str, project: Path, outside: Path, name: str) -> str:
    """Create ``kind`` at (or for) ``project/name`` and return the path to write into edgepack.toml."""
    target = project / name
    if target.is_dir() and not target.is_symlink():
        import shutil

        shutil.rmtree(target)
    elif os.path.lexists(target):
        target.unlink()
    if kind == "directory":
        target.mkdir()
        (target / "inner.txt").write_text("x")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev_zero":
        os.symlink("/dev/zero", target)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(target))
        s.close()  # the socket file stays
    elif kind == "symlink_out":
        secret = outside / ("secret-" + name.replace("/", "_"))
        secret.write_text("not yours")
        os.symlink(secret, target)
    elif kind == "dotdot":
        (outside / "escaped.txt").write_text("not yours")
        return os.path.relpath(outside / "escaped.txt", project)
    elif kind == "absolute":
        return "/etc/passwd"
    elif kind == "long_name":
        return "n" * 300 + ".json"
    elif kind == "long_path":
        return "/".join(["d" * 200] * 30)
    elif kind == "nul":
        return name + "\u0000.bak"
    elif kind == "empty":
        return ""
    elif kind == "symlink_loop":
        os.symlink(target.name, target)
    elif kind == "missing":
        return "no-such-" + name
    return name


def sparse_file(path: Path, size: int) -> None:
    """A file of ``size`` bytes that takes no disk space (the size limit must refuse it unread)."""
    with open(path, "wb") as f:
        f.truncate(size)


def dump_json_text(doc) -> str:
    return json.dumps(doc, allow_nan=True)
