"""Offline aarch64 wheelhouses: every wheel a Raspberry Pi needs to install a package with no network.

Built on the x86 build machine with ``pip download --platform ... --only-binary=:all:``, one
directory per device Python (Raspberry Pi OS Bookworm = 3.11, Trixie = 3.13). Each directory
carries ``wheelhouse.json`` (name, version, file, sha256 of every wheel) so a cached copy is
reused offline and install.sh can check it.

Why these pins (measured, see design.md):
- onnxruntime 1.27.0: the newest aarch64 wheel that imports under Debian's qemu 7.2, which is
  how CI proves the package on aarch64 (>= 1.28 segfaults at import there). Newer versions
  are fine on real hardware: ``onnxruntime_version=`` overrides the pin.
- Both ``manylinux_2_28_aarch64`` and ``manylinux2014_aarch64`` are named: with the 2014 tag
  alone pip silently falls back to onnxruntime 1.16.3.
- The service runs on starlette + uvicorn without the ``[standard]`` extra: pure-python wheels
  (h11 for HTTP), so nothing has to be compiled or exist as an armv7/aarch64 binary.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edgepack.atomic import atomic_publish
from edgepack.errors import TargetError
from edgepack.runtime.hashing import sha256_file

# device Python -> the Raspberry Pi OS release that ships it
DEVICE_PYTHONS = {"3.11": "bookworm", "3.13": "trixie"}
# What a package carries unless --python / [targets] rpi.python says otherwise: one wheelhouse
# (~35 MB: onnxruntime and numpy are ~16 MB each), so the default package stays under 50 MB --
# the current Raspberry Pi OS release's Python (Trixie, since October 2025). A Pi still on Bookworm
# needs `--python 3.11` (install.sh names the flag); the emulated device in the tests is Bookworm,
# so they ask for 3.11 explicitly.
DEFAULT_PYTHONS = ("3.13",)

ONNXRUNTIME_VERSION = "1.27.0"

# Exact pins for what the device installs: reproducible packages, and a cache key.
# numpy 2.4 is the last series with wheels for both cp311 and cp313.
PINS = {
    "numpy": "2.4.6",
    "starlette": "1.10.0",
    "uvicorn": "0.54.0",
    # dependencies of the above and of onnxruntime, pinned so two builds give the same wheelhouse
    "anyio": "4.16.0",
    "click": "8.5.1",
    "flatbuffers": "25.12.19",
    "h11": "0.16.0",
    "idna": "3.20",
    "packaging": "26.3",
    "protobuf": "7.36.2",
    "typing-extensions": "4.16.0",
    # install.sh makes the venv with --without-pip (Debian's python3-venv/ensurepip may be
    # missing on a device) and runs pip from this wheel.
    "pip": "26.3",
}

# What the device venv installs (the rest are their dependencies).
TOP_LEVEL = ("onnxruntime", "numpy", "starlette", "uvicorn")

PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")
UNSUPPORTED_ARCHES = {"armv7", "armv7l", "armhf", "armv6", "armv6l", "armel", "arm", "arm32", "i386", "i686"}
INDEX_NAME = "wheelhouse.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Wheelhouse:
    path: Path
    python: str
    wheels: dict[str, dict]  # normalized name -> {version, file, sha256, bytes}

    @property
    def bytes(self) -> int:
        return sum(w["bytes"] for w in self.wheels.values())

    def pip_wheel(self) -> Path:
        return self.path / self.wheels["pip"]["file"]


def check_arch(arch: str) -> None:
    """Refuse 32-bit ARM early, saying what to do: onnxruntime publishes no armv7 wheel."""
    a = arch.lower()
    if a in UNSUPPORTED_ARCHES:
        raise TargetError(
            f"target architecture {arch!r}: onnxruntime publishes no wheel for 32-bit ARM "
            "(armv7/armhf), so no offline package can be built for it. Install the 64-bit "
            "Raspberry Pi OS (aarch64; Pi 3, 4, 5, Zero 2 W), or use the browser target "
            "(`edgepack build PROJECT --target wasm`)."
        )
    if a not in ("aarch64", "arm64"):
        raise TargetError(f"target architecture {arch!r} is not supported by --target rpi; use aarch64")


def check_python(python: str) -> str:
    if python not in DEVICE_PYTHONS:
        known = ", ".join(f"{v} ({os_})" for v, os_ in DEVICE_PYTHONS.items())
        raise TargetError(f"--python {python}: no wheelhouse for it; choose from {known}")
    return python


def requirements(onnxruntime_version: str = ONNXRUNTIME_VERSION) -> list[str]:
    return [f"onnxruntime=={onnxruntime_version}"] + [f"{n}=={v}" for n, v in PINS.items()]


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _index(directory: Path, python: str) -> dict[str, dict]:
    wheels = {}
    for whl in sorted(directory.glob("*.whl")):
        name, version = whl.name.split("-")[:2]
        wheels[_norm(name)] = {
            "version": version,
            "file": whl.name,
            "sha256": sha256_file(whl),
            "bytes": whl.stat().st_size,
        }
    return wheels


def load(directory: str | Path) -> Wheelhouse:
    """Read a wheelhouse and check every wheel against its index."""
    directory = Path(directory)
    index = directory / INDEX_NAME
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TargetError(f"{index}: not a wheelhouse index ({exc}); rebuild the wheelhouse") from None
    if data.get("format_version") != FORMAT_VERSION:
        raise TargetError(f"{index}: format_version {data.get('format_version')!r} unknown; rebuild it")
    bad = [
        w["file"]
        for w in data["wheels"].values()
        if not (directory / w["file"]).is_file() or sha256_file(directory / w["file"]) != w["sha256"]
    ]
    if bad:
        raise TargetError(f"{directory}: wheels missing or changed: {', '.join(bad)}; rebuild the wheelhouse")
    return Wheelhouse(path=directory, python=data["python"], wheels=data["wheels"])


def _cache_root() -> Path:
    return Path(os.environ.get("EDGEPACK_CACHE") or Path.home() / ".cache" / "edgepack")


def build(
    python: str,
    dest: str | Path | None = None,
    onnxruntime_version: str = ONNXRUNTIME_VERSION,
    pip: list[str] | None = None,
) -> Wheelhouse:
    """Download (or reuse from the cache) the aarch64 wheelhouse for device ``python``.

    ``dest`` defaults to ``$EDGEPACK_CACHE/wheelhouse/aarch64-cp311-ort1.27.0``. A complete
    directory whose wheels match its index is reused without touching the network.
    """
    check_python(python)
    tag = python.replace(".", "")
    dest = Path(dest) if dest else _cache_root() / "wheelhouse" / f"aarch64-cp{tag}-ort{onnxruntime_version}"
    reqs = requirements(onnxruntime_version)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Parallel builds (pytest-xdist workers) of one cache entry: one downloads, the rest reuse.
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            existing = load(dest)
            if _satisfies(existing, reqs):
                return existing
        except TargetError:
            pass
        _download(dest, python, reqs, pip)
    return load(dest)


def _download(dest: Path, python: str, reqs: list[str], pip: list[str] | None) -> None:
    tag = python.replace(".", "")
    # Published only when complete: a killed build leaves no half wheelhouse that a later run would trust.
    with atomic_publish(dest) as tmp:
        cmd = list(pip or [sys.executable, "-m", "pip"]) + [
            "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--implementation", "cp", "--python-version", python,
            "--dest", str(tmp),
        ]  # fmt: skip
        for p in PLATFORMS:
            cmd += ["--platform", p]
        proc = subprocess.run(cmd + reqs, capture_output=True, text=True)
        if proc.returncode != 0:
            raise TargetError(
                f"pip download of the aarch64 cp{tag} wheelhouse failed "
                f"(needs PyPI access once; later builds reuse {dest}):\n{proc.stderr.strip()[-2000:]}"
            )
        wheels = _index(tmp, python)
        extra = sorted(set(wheels) - {_norm(r.split("==")[0]) for r in reqs})
        if extra:
            # A new transitive dependency appeared: pin it so builds stay reproducible.
            raise TargetError(f"aarch64 wheelhouse pulled unpinned packages {extra}; add them to edgepack.edge.wheelhouse.PINS")
        write_index(tmp, python, wheels)


def write_index(directory: Path, python: str, wheels: dict[str, dict]) -> None:
    """``wheelhouse.json`` for ``directory``: ``python`` is a device Python, or "any" for the wheels a
    package's Pythons share (edgepack.edge.package)."""
    data = {"format_version": FORMAT_VERSION, "python": python, "platforms": list(PLATFORMS), "wheels": wheels}
    (directory / INDEX_NAME).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _satisfies(house: Wheelhouse, reqs: list[str]) -> bool:
    for req in reqs:
        name, version = req.split("==")
        got = house.wheels.get(_norm(name))
        if got is None or got["version"] != version:
            return False
    return True
