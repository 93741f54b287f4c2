"""Reproducible archives: the same directory always gives the same bytes.

Both writers fix everything a build machine would otherwise leak into an archive: member order
(sorted paths), timestamps (``SOURCE_DATE_EPOCH`` when set, else 1980-01-01, the earliest a zip can
hold), modes (0644, or 0755 for directories and files with an owner-execute bit), owner (0/0,
"root"), no zip extra fields, and the gzip header (mtime 0, no file name). Used by
:func:`edgepack.atomic.atomic_publish`, which writes archives next to the directory they mirror.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Callable, Iterable

# Payloads that are already compressed are stored in a zip, the rest deflated.
STORED_SUFFIXES = frozenset({".br", ".gz", ".zip", ".png", ".whl"})
ZIP_MIN_EPOCH = 315532800  # 1980-01-01T00:00:00Z: a zip cannot represent anything earlier


def source_date_epoch() -> int:
    """The archive timestamp: ``SOURCE_DATE_EPOCH`` (reproducible-builds.org) or 1980-01-01."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    try:
        return max(int(raw), ZIP_MIN_EPOCH) if raw else ZIP_MIN_EPOCH
    except ValueError:
        return ZIP_MIN_EPOCH  # a garbage value must not make archives depend on the clock


def archive_format(path: str | os.PathLike) -> str:
    name = Path(path).name
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    raise ValueError(f"{path}: unknown archive type (use .zip, .tar.gz or .tgz)")


def _members(root: Path) -> list[Path]:
    """Every file and directory under ``root``, sorted by POSIX path (not os.walk order)."""
    return sorted((p for p in root.rglob("*") if p.is_file() or p.is_dir()),
                  key=lambda p: p.relative_to(root).as_posix())


def _mode(path: Path) -> int:
    st = path.stat()
    return 0o755 if stat.S_ISDIR(st.st_mode) or st.st_mode & 0o100 else 0o644


def zip_entries(entries: Iterable[tuple[str, bytes, int]], out, on_member: Callable[[int], None] | None = None) -> None:
    """Write (name, data, mode) entries, in the given order, to ``out`` (a path or binary file)."""
    stamp = time.gmtime(source_date_epoch())[:6]
    with zipfile.ZipFile(out, "w") as zf:
        for i, (name, data, mode) in enumerate(entries):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3  # unix, whatever the build OS: the mode below is meaningful
            info.external_attr = (stat.S_IFREG | mode) << 16
            stored = Path(name).suffix in STORED_SUFFIXES
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=None if stored else 9)
            if on_member is not None:
                on_member(i)


def write_zip(root: Path, dest: Path, arcroot: str, on_member: Callable[[int], None] | None = None) -> None:
    """``dest``: the files under ``root`` as ``<arcroot>/<path>`` (files only, like the bundles always had)."""
    files = [p for p in _members(root) if p.is_file()]
    zip_entries(((f"{arcroot}/{p.relative_to(root).as_posix()}", p.read_bytes(), _mode(p)) for p in files),
                dest, on_member)


def write_tar_gz(root: Path, dest: Path, arcroot: str, on_member: Callable[[int], None] | None = None) -> None:
    """``dest``: ``root`` as ``<arcroot>/`` (directories and files), gzip level 9."""
    epoch = source_date_epoch()

    def norm(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = epoch
        info.mode = 0o755 if (info.isdir() or info.mode & 0o100) else 0o644
        return info

    # filename="": GzipFile would otherwise record the (temporary, random) name of the output file.
    with open(dest, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(root, arcname=arcroot, filter=norm, recursive=False)
            for i, p in enumerate(_members(root)):
                tar.add(p, arcname=f"{arcroot}/{p.relative_to(root).as_posix()}", filter=norm, recursive=False)
                if on_member is not None:
                    on_member(i)


def write_archive(root: Path, dest: Path, arcroot: str, on_member: Callable[[int], None] | None = None) -> None:
    writer = write_zip if archive_format(dest) == "zip" else write_tar_gz
    writer(root, dest, arcroot, on_member)


def zip_bytes(entries: Iterable[tuple[str, bytes, int]]) -> bytes:
    """A reproducible zip in memory (wheels)."""
    buf = io.BytesIO()
    zip_entries(entries, buf)
    return buf.getvalue()
