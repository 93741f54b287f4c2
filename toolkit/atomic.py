"""Atomic output: an interrupted or failed command leaves the previous artifacts exactly as they were.

The one mechanism every writer uses (export, quantize, every target, vendoring, wheelhouses):
:func:`atomic_publish` publishes a directory *and* its archives (``.zip``, ``.tar.gz``) together.

How (all paths are siblings in one parent, so every rename is atomic on its own):

1. Everything is built in a work directory ``.<name>.tmp-<gen>/``: the new directory and the
   archives of it. The work directory is ``flock``-ed while its owner lives, so a later run can tell
   an abandoned one (owner killed) from a live one.
2. Commit: a journal ``.<name>.publish`` (JSON, fsync-ed, renamed into place) names the generation
   and every (staged, final) pair. From that moment the new build is decided.
3. Swap: for each item, the final path is renamed to ``.<final>.previous-<gen>`` and the staged one
   to the final path. Then the journal is removed, and the previous copies and work directory.
4. Repair (start of every publish to the same place): a journal left behind (SIGKILL, power loss)
   is rolled *forward* -- the staged items still in the work directory are renamed in -- so the
   directory and its archives always end up from the same build; leftovers of every kind
   (``.tmp-*`` without a live owner, ``.previous*``, the older ``.old-*``) are removed.

SIGINT/SIGTERM during the few renames of step 2-3 are deferred (recorded, then raised right after),
so a Ctrl-C never lands between two renames; the journal covers what cannot be deferred (SIGKILL).
An interrupt before the commit discards the work directory: the previous artifacts stay.

Test hook: ``EDGEPACK_TEST_PAUSE_AT=<label>[@<name>]`` prints ``EDGEPACK-PAUSED <label> <name>`` on
stderr and sleeps at that point (labels: :data:`PAUSE_POINTS`), so tests interrupt deterministically.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

from edgepack.archive import archive_format, write_archive
from edgepack.errors import OutputError

JOURNAL_SUFFIX = ".publish"
PAUSE_POINTS = ("built", "archive", "commit", "between-renames", "swapped")
_PAUSE_MAX_S = 60.0


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM. A KeyboardInterrupt, so ``except Exception`` never swallows it and every
    ``finally`` / rollback runs; the CLI turns it into exit code 128 + signal (130, 143)."""

    def __init__(self, signum: int = signal.SIGINT, published: Sequence[Path] = ()):
        self.signum = int(signum)
        self.published = [Path(p) for p in published]
        self.exit_code = 128 + self.signum
        super().__init__(self.message)

    @property
    def message(self) -> str:
        name = signal.Signals(self.signum).name
        if self.published:
            return (f"interrupted ({name}) after the new artifacts were published, complete: "
                    + ", ".join(str(p) for p in self.published))
        return f"interrupted ({name}); previous artifacts kept"


# ----------------------------------------------------------------------------------------- test hook

def _pause(label: str, name: str, *, deferred: "_Deferred | None" = None) -> None:
    wanted = os.environ.get("EDGEPACK_TEST_PAUSE_AT")
    if not wanted:
        return
    for item in wanted.split(","):
        want_label, _, want_name = item.strip().partition("@")
        if want_label == label and want_name in ("", name):
            break
    else:
        return
    print(f"EDGEPACK-PAUSED {label} {name}", file=sys.stderr, flush=True)
    end = time.monotonic() + _PAUSE_MAX_S
    while time.monotonic() < end and not (deferred and deferred.signum):
        time.sleep(0.02)  # a signal outside a deferred section raises here


# -------------------------------------------------------------------------------- deferred signals

class _Deferred:
    """While active (main thread only): SIGINT/SIGTERM are recorded, not raised."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = 0
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._old[sig] = signal.signal(sig, self._record)
        return self

    def _record(self, signum, _frame):
        self.signum = self.signum or signum

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        return False


# ------------------------------------------------------------------------------------------- repair

def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _parent_lock(parent: Path) -> Iterator[None]:
    """Serialises commit and repair of siblings in ``parent`` (flock on the directory: no lock file)."""
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            path.unlink()


def _owner_alive(work: Path) -> bool:
    try:
        fd = os.open(work, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)


def _ctime(path: Path) -> float:
    try:
        return path.lstat().st_ctime  # a rename updates ctime: the newest .previous is the last one moved aside
    except OSError:
        return 0.0


def _journal(anchor: Path) -> Path:
    return anchor.with_name(f".{anchor.name}{JOURNAL_SUFFIX}")


def _roll_forward(journal: Path) -> None:
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
        items = [(Path(i["staged"]), Path(i["final"]), Path(i["previous"])) for i in data["items"]]
    except (OSError, ValueError, KeyError, TypeError):
        items = []  # unreadable: written by rename, so only a foreign file; treat as no commit
    for staged, final, previous in items:
        if staged.exists():
            if final.exists() or final.is_symlink():
                os.rename(final, previous)
            os.rename(staged, final)
    _fsync_dir(journal.parent)
    journal.unlink(missing_ok=True)


def repair(final: str | Path, archives: Sequence[str | Path] = ()) -> None:
    """Finish an interrupted publish of ``final`` (+ ``archives``) and remove every leftover."""
    final = Path(final)
    parent = final.parent
    with _parent_lock(parent):
        journal = _journal(final)
        if journal.exists():
            _roll_forward(journal)
        for target in [final, *map(Path, archives)]:
            # The one-copy swap this module used before: final missing -> its .previous is the last good one.
            legacy = target.with_name(target.name + ".previous")
            if legacy.exists() and not target.exists():
                os.rename(legacy, target)
            siblings = sorted(target.parent.glob(f".{glob.escape(target.name)}.*"), key=_ctime)
            previous = [p for p in siblings if p.name.startswith(f".{target.name}.previous-")]
            if previous and not (target.exists() or target.is_symlink()):
                # A commit failed in a live process after moving the final aside: put it back.
                os.rename(previous[-1], target)
            for sib in siblings:
                rest = sib.name[len(target.name) + 2:]
                if not (sib.exists() or sib.is_symlink()):
                    continue
                if rest.startswith(("previous-", "old")):
                    _remove(sib)
                elif rest.startswith("tmp-") and not _owner_alive(sib):
                    _remove(sib)
            for old in (legacy, target.with_name(target.name + ".old")):
                if old.exists():
                    _remove(old)


# -------------------------------------------------------------------------------------------- publish

def _prepare_parent(final: Path) -> None:
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{parent}: cannot create the output directory ({exc.strerror}); choose another with --out") from None
    if not parent.is_dir():
        raise OutputError(f"{parent}: is not a directory; choose another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent}: output directory is not writable; fix its permissions or choose another with --out")


def _strip_archive_suffix(name: str) -> str:
    for suffix in (".tar.gz", ".tgz", ".zip"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


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


@contextlib.contextmanager
def atomic_publish(directory: str | Path | None = None, archives: Sequence[str | Path] = (), *,
                   root_name: str | None = None, keep_existing: bool = False) -> Iterator[Path]:
    """Yield an empty directory to fill; when the block succeeds, publish it at ``directory`` and
    each of ``archives`` (``.zip`` / ``.tar.gz``: the directory's files under ``<name>/``) together.

    ``directory=None``: publish only the archives (their top folder is ``root_name``).
    ``keep_existing``: start from a copy of the current directory (stages that add files).
    Any exception or interrupt before the commit leaves every previous artifact untouched.
    """
    finals = [Path(p).absolute() for p in archives]
    anchor = Path(directory).absolute() if directory is not None else (finals[0] if finals else None)
    if anchor is None:
        raise ValueError("atomic_publish needs a directory or at least one archive")
    arcroot = anchor.name if directory is not None else (root_name or _strip_archive_suffix(anchor.name))
    for path in finals:
        archive_format(path)
        if (path.exists() or path.is_symlink()) and not path.is_file():
            raise OutputError(f"{path}: exists and is not a file; refusing to replace it with an archive "
                              "(remove it or choose another output path)")
    if directory is not None and (anchor.exists() or anchor.is_symlink()) and not anchor.is_dir():
        raise OutputError(f"{anchor}: exists and is not a directory; refusing to replace it (remove it or "
                          "choose another output path)")
    for path in [anchor, *finals]:
        _prepare_parent(path)
        if path.parent.stat().st_dev != anchor.parent.stat().st_dev:
            raise OutputError(f"{path}: must be on the same file system as {anchor.parent} (renames publish it); "
                              "choose a path there")
    repair(anchor, finals if directory is not None else finals[1:])

    gen = f"{os.getpid()}-{secrets.token_hex(4)}"
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{anchor.name}.tmp-{gen}-", dir=anchor.parent))
    except OSError as exc:
        raise OutputError(f"{anchor.parent}: cannot write here ({exc.strerror}); choose another output directory") from None
    lock = os.open(work, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # held until the end: marks the work directory as alive
    try:
        content = work / arcroot
        content.mkdir()
        # mkdtemp makes 0700; the finished directory gets the permissions a plain mkdir would give.
        os.chmod(content, 0o777 & ~_umask())
        if keep_existing and directory is not None and anchor.is_dir():
            shutil.copytree(anchor, content, dirs_exist_ok=True, copy_function=_link_or_copy)
        try:
            yield content
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                raise OutputError(f"{anchor.parent}: {exc.strerror} while writing {anchor.name}; the previous "
                                  "artifacts are kept (free some space or choose another output directory)") from None
            raise
        _pause("built", anchor.name)
        items = [(content, anchor)] if directory is not None else []
        for i, final in enumerate(finals):
            staged = work / f"archive-{i}-{final.name}"
            pause_once = [True]

            def on_member(_n):
                if pause_once[0]:
                    pause_once[0] = False
                    _pause("archive", anchor.name)

            try:
                write_archive(content, staged, arcroot, on_member)
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                raise OutputError(f"{anchor.parent}: {exc.strerror} while writing {final.name}; the previous "
                                  "artifacts are kept (free some space or choose another output directory)") from None
            os.chmod(staged, 0o666 & ~_umask())
            items.append((staged, final))
        _commit(anchor, gen, items)
    finally:
        os.close(lock)
        shutil.rmtree(work, ignore_errors=True)


def _commit(anchor: Path, gen: str, items: list[tuple[Path, Path]]) -> None:
    _pause("commit", anchor.name)
    journal = _journal(anchor)
    records = [{"staged": str(s), "final": str(f), "previous": str(f.with_name(f".{f.name}.previous-{gen}"))}
               for s, f in items]
    with _Deferred() as deferred:
        with _parent_lock(anchor.parent):
            fd, tmp = tempfile.mkstemp(prefix=f".{anchor.name}.tmp-journal-", dir=anchor.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"generation": gen, "items": records}, f)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, journal)
            _fsync_dir(anchor.parent)  # the commit point: from here a crash rolls forward
            try:
                for n, rec in enumerate(records):
                    final, previous = Path(rec["final"]), Path(rec["previous"])
                    if final.exists() or final.is_symlink():
                        os.rename(final, previous)
                    os.rename(rec["staged"], final)
                    if n == 0 and len(records) > 1:
                        _pause("between-renames", anchor.name, deferred=deferred)
            except BaseException:
                with contextlib.suppress(OSError):
                    _roll_forward(journal)  # else repair() restores the .previous copies
                raise
            _fsync_dir(anchor.parent)
            journal.unlink()
    published = [Path(r["final"]) for r in records]
    try:
        if not deferred.signum:
            _pause("swapped", anchor.name)
        for rec in records:
            _remove(Path(rec["previous"]))  # an interrupted removal is finished by the next repair()
    except KeyboardInterrupt as exc:
        raise Interrupted(getattr(exc, "signum", signal.SIGINT), published=published) from None
    if deferred.signum:
        # Already published: say so (the CLI prints it) instead of claiming the old build was kept.
        raise Interrupted(deferred.signum, published=published)


@contextlib.contextmanager
def atomic_directory(final: str | Path, keep_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``final`` only if the block succeeds."""
    with atomic_publish(final, keep_existing=keep_existing) as tmp:
        yield tmp


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    _prepare_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
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
