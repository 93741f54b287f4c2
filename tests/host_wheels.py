"""Wheels for this machine's Python (not the device's): what a fresh venv without torch needs.

Two tests install the edgepack-runtime wheel into a new venv with ``pip --no-index``, like a device
does: the runtime-wheel test (numpy + onnxruntime) and the real-systemd test (plus the service's
starlette + uvicorn). The wheels are fetched from PyPI once into ``$EDGEPACK_CACHE`` with the same
pins as the project's venv (scripts/constraints.txt); ``scripts/setup.sh`` runs this module so a
test run needs no network. The marker file records the pins, so a changed pin fetches again.

    python -m tests.host_wheels      # what setup.sh runs
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.repo_support import cache

REPO = Path(__file__).resolve().parents[1]
NAMES = ("numpy", "onnxruntime", "starlette", "uvicorn")


def pins() -> tuple[str, ...]:
    lines = (REPO / "scripts" / "constraints.txt").read_text().splitlines()
    found = tuple(line.split("#")[0].strip() for line in lines if line.split("==")[0].strip() in NAMES)
    assert len(found) == len(NAMES), f"scripts/constraints.txt must pin each of {NAMES}"
    return found


def host_wheels() -> Path:
    """The folder of wheels (fetched once); raises RuntimeError naming the pip error if PyPI is unreachable."""
    dest = cache() / f"host-wheels-cp{sys.version_info.major}{sys.version_info.minor}"
    marker = dest / ".complete"
    want = "\n".join(pins()) + "\n"
    if marker.is_file() and marker.read_text() == want:
        return dest
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                           "--only-binary=:all:", "-d", str(dest), *pins()], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip download of {pins()} into {dest} failed (needs PyPI once):\n{proc.stderr[-2000:]}")
    marker.write_text(want)
    return dest


if __name__ == "__main__":
    print(host_wheels())
