"""Pre-compressed copies (.br, .gz) for static hosting.

Brotli comes from the pinned ``brotli`` Python package; where it is missing the Debian ``brotli``
CLI is used instead, so a bundle can still be built with either. gzip output is byte-stable
(mtime 0, no file name) so two builds of the same inputs give the same bundle.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess

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
    return gzip.compress(data, compresslevel=9, mtime=0)


def worth_keeping(original: int, compressed: int) -> bool:
    return compressed <= original * (1 - MIN_SAVING)
