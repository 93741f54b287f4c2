"""Plain helpers shared by the atomic-output tests (tests/test_atomic.py, tests/test_interrupts.py):
what an interrupted publish leaves behind, archive and tree listings, a command paused at a point."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from tests.repo_support import REPO

LEFTOVER_MARKERS = (".tmp-", ".previous", ".old", ".publish")


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if any(m in p.name for m in LEFTOVER_MARKERS))


def archive_listing(path: Path) -> dict[str, str]:
    """member -> sha256 of its bytes, for .zip and .tar.gz alike (directories left out)."""
    out = {}
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                out[name] = hashlib.sha256(zf.read(name)).hexdigest()
    else:
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                if m.isfile():
                    out[m.name] = hashlib.sha256(tar.extractfile(m).read()).hexdigest()
    return out


def tree_listing(directory: Path, arcroot: str | None = None) -> dict[str, str]:
    root = arcroot or directory.name
    return {f"{root}/{p.relative_to(directory).as_posix()}": hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def run_until_paused(cmd: list[str], label: str, env: dict | None = None, cwd: Path | None = None,
                     timeout: float = 300) -> subprocess.Popen:
    """Start ``cmd`` with EDGEPACK_TEST_PAUSE_AT=label and return once it printed the pause marker."""
    full_env = {**os.environ, **(env or {}), "EDGEPACK_TEST_PAUSE_AT": label, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=cwd or REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("EDGEPACK-PAUSED "):
            return proc
    proc.kill()
    out, err = proc.communicate()
    pytest.fail(f"{cmd} never paused at {label!r} (exit {proc.returncode}):\n{''.join(seen)}{err[-3000:]}")


def finish(proc: subprocess.Popen, sig: int | None, timeout: float = 120) -> tuple[int, str, str]:
    if sig is not None:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err
