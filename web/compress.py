"""Pre-compressed copies (.br, .gz) for static hosting.

Brotli comes from the pinned ``brotli`` Python package; where it is missing the Debian ``brotli``
CLI is used instead, so a bundle can still be built with either. Both are deterministic: gzip
output has mtime 0, no file name and a fixed OS byte; brotli has no header fields at all. Two builds
of the same inputs give byte-identical copies (tests/test_atomic_archives.py).
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path
from typing import Iterable, Mapping

from edgepack.errors import TargetError

# Only text-like and wasm/onnx payloads: images and archives are already compressed.
COMPRESSIBLE_SUFFIXES = frozenset({".html", ".css", ".mjs", ".js", ".json", ".wasm", ".onnx", ".txt", ".svg", ".map"})

# A copy is kept only when it saves at least this fraction; a barely smaller file is not worth a header.
MIN_SAVING = 0.05


def brotli_bytes(data: bytes, quality: int = 11) -> bytes:
    try:
        import brotli
    except ImportError:
        brotli = None
    if brotli is not None:
        return brotli.compress(data, quality=quality)
    cli = shutil.which("brotli")
    if cli is None:
        raise TargetError(
            "brotli compression needs the `brotli` Python package (pip install brotli==1.2.1) "
            "or the brotli command (apt-get install brotli)"
        )
    proc = subprocess.run([cli, "-c", f"-q{quality}", "-"], input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        raise TargetError(f"brotli command failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def gzip_bytes(data: bytes) -> bytes:
    blob = bytearray(gzip.compress(data, compresslevel=9, mtime=0))
    blob[9] = 255  # OS "unknown": CPython versions disagree on this header byte
    return bytes(blob)


def compress_tree(root: Path, ready_brotli: Mapping[str, Path], quality: int, skip: Iterable[str] = ()) -> None:
    """Write ``.br`` and ``.gz`` next to every compressible file under ``root`` (sorted, so output
    order never depends on the file system) where they save enough. ``ready_brotli``: relative
    path -> an existing brotli copy (vendored, made once at quality 11). ``skip``: relative paths
    left alone (the manifest, written last, and host config files read by the host itself)."""
    skipped = set(skip)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in COMPRESSIBLE_SUFFIXES or rel in skipped:
            continue
        data = path.read_bytes()
        ready = ready_brotli.get(rel)
        br = ready.read_bytes() if ready is not None else brotli_bytes(data, quality=quality)
        for suffix, blob in ((".br", br), (".gz", gzip_bytes(data))):
            if worth_keeping(len(data), len(blob)):
                path.with_name(path.name + suffix).write_bytes(blob)


def worth_keeping(original: int, compressed: int) -> bool:
    return compressed <= original * (1 - MIN_SAVING)
