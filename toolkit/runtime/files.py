"""Reading the files a user points edgepack at: regular files only, bounded in size, never blocking.

A path in a project may name a FIFO (``open`` blocks forever), a device such as /dev/zero (a read
never ends), a directory, or a name longer than the file system allows. Every reader of a user
file goes through :func:`check_regular` (stat first, never opening a special file) and
:func:`read_bytes` (opens with O_NONBLOCK, re-checks the opened file with fstat so a swap between
the two calls is caught, and reads at most ``limit`` bytes).

Stdlib only: the runtime (Pi, Pyodide) uses it for tokenizer.json. The caller picks the error class
(ProjectError, TokenizerSpecError, ...) so the exit code matches the file's role.
"""

from __future__ import annotations

import errno
import os
import stat

from edgepack.errors import EdgepackError

MiB = 1 << 20
# Size limits per kind of file. Larger files are almost certainly the wrong file (or a hostile one);
# the numbers are far above any real file of the kind (BERT's tokenizer.json is ~0.7 MiB).
CONFIG_LIMIT = 1 * MiB          # edgepack.toml
TOKENIZER_LIMIT = 64 * MiB      # tokenizer.json
TEXT_LIMIT = 64 * MiB           # evaluation / calibration texts
JSON_LIMIT = 16 * MiB           # small JSON files next to a model (config.json, ...)
MAX_DEPTH = 64                  # JSON / TOML nesting; real files use < 10 levels

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def os_problem(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return "the path is too long for the file system; use a shorter name"
    if exc.errno == errno.ELOOP:
        return "the path is a symlink loop"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "does not exist"
    if exc.errno == errno.EACCES:
        return "permission denied; make it readable"
    return f"cannot be read ({exc.strerror or type(exc).__name__})"


def check_regular(path, where: str, error: type[EdgepackError] = EdgepackError) -> os.stat_result:
    """stat(path) (symlinks followed) or ``error``: missing, special file, too long a name, ...

    ``where`` names the file's role, e.g. ``"edgepack.toml: tokenizer"``. Nothing is opened.
    """
    name = os.fspath(path)
    if "\0" in str(name):
        raise error(f"{where}: {name!r}: a path cannot contain a NUL character")
    try:
        st = os.stat(name)
    except OSError as exc:
        raise error(f"{where}: {name} {os_problem(exc)}") from None
    except ValueError as exc:  # e.g. embedded NUL in bytes
        raise error(f"{where}: {name!r}: invalid path ({exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{where}: {name} is {kind_of(st.st_mode)}, not a regular file; point it at the file itself")
    return st


def read_bytes(path, where: str, limit: int | None, error: type[EdgepackError] = EdgepackError) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (None: no limit), or ``error``."""
    name = os.fspath(path)
    check_regular(name, where, error)
    try:
        # O_NONBLOCK: if the path became a FIFO after the stat, open returns instead of waiting.
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{where}: {name} {os_problem(exc)}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{where}: {name} is {kind_of(st.st_mode)}, not a regular file; point it at the file itself")
        if limit is not None and st.st_size > limit:
            raise error(f"{where}: {name} is {_size(st.st_size)}, more than the {_size(limit)} allowed for this file; "
                        "is it the right file?")
        try:
            data = f.read(limit + 1) if limit is not None else f.read()
        except OSError as exc:
            raise error(f"{where}: {name} {os_problem(exc)}") from None
    if limit is not None and len(data) > limit:  # grew after the fstat
        raise error(f"{where}: {name} is more than the {_size(limit)} allowed for this file; is it the right file?")
    return data


def read_text(path, where: str, limit: int | None, error: type[EdgepackError] = EdgepackError) -> str:
    """read_bytes decoded as UTF-8 (a leading BOM dropped), or ``error`` naming the byte at fault."""
    data = read_bytes(path, where, limit, error)
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise error(f"{where}: {os.fspath(path)} is not UTF-8 ({exc.reason} at byte {exc.start}); "
                    "save it as UTF-8") from None


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


def nesting_depth(obj, limit: int = MAX_DEPTH) -> int:
    """Depth of nested lists/dicts in a parsed document, walked without recursion; stops counting
    past ``limit`` (returns limit + 1) so a hostile document costs no more than a legal one."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest
