"""Atomic writes: a failed command leaves the previous artifacts exactly as they were.

Directories are built next to their final place (same filesystem) and swapped in with two
renames; the window between them is recovered on the next run (the ``.previous`` copy is put
back if the final directory is missing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from edgepack.errors import OutputError


def _prepare_parent(final: Path) -> None:
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{parent}: cannot create the output directory ({exc.strerror}); choose another with --out") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent}: output directory is not writable; fix its permissions or choose another with --out")
    previous = final.with_name(final.name + ".previous")
    if previous.exists() and not final.exists():
        previous.rename(final)  # an earlier swap was interrupted between its two renames
    elif previous.exists():
        shutil.rmtree(previous, ignore_errors=True)


def _swap_in(tmp: Path, final: Path) -> None:
    previous = final.with_name(final.name + ".previous")
    if final.exists():
        final.rename(previous)
    tmp.rename(final)
    shutil.rmtree(previous, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(final: str | Path, keep_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``final`` only if the block succeeds.

    ``keep_existing``: start from a copy of the current contents (for stages that add files).
    """
    final = Path(final)
    _prepare_parent(final)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    except OSError as exc:
        raise OutputError(f"{final.parent}: cannot write here ({exc.strerror}); choose another output directory") from None
    # mkdtemp makes 0700; the finished directory gets the permissions a plain mkdir would give.
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        if keep_existing and final.is_dir():
            shutil.copytree(final, tmp, dirs_exist_ok=True, copy_function=_link_or_copy)
        yield tmp
        _swap_in(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _link_or_copy(src: str, dst: str) -> None:
    # Files in an artifact are never modified in place (only replaced), so hard links are safe.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    _prepare_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_copy_file(src: str | Path, dst: str | Path) -> None:
    dst = Path(dst)
    _prepare_parent(dst)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.tmp-", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
