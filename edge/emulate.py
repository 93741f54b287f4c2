"""Run aarch64 Python on an x86 machine: qemu-aarch64-static over an arm64 Debian root.

This is how edgepack proves the Raspberry Pi package without a Pi (tests, the emulated bench
row). The root comes from ``scripts/arm64_root.sh`` (debootstrap --foreign + dpkg -x). Emulated
runs get edgepack's code from the edgepack-runtime wheel (:func:`runtime_pythonpath`).

Quirks that shape this module (measured, see design.md):
- ``-cpu cortex-a72`` (the Pi 4's core): qemu's default ``max`` CPU gave wrong INT8 results.
- binfmt_misc is not available, so a process the emulated program starts runs natively and
  fails (Exec format error). Everything is one emulated python process per step: venvs are made
  ``--without-pip`` and pip runs from its wheel (``python pip.whl/pip install --no-index``),
  which installs wheels in-process.
- A venv made by the emulated python links ``bin/python`` to ``ROOT/usr/bin/python3.x`` -- a
  host path -- so the same venv also works with a plain ``qemu ... venv/bin/python``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edgepack.errors import TargetError

QEMU = "qemu-aarch64-static"
CPU = "cortex-a72"
SUITE_PYTHON = {"bookworm": "3.11", "trixie": "3.13"}
# A proxy nobody listens on: any network attempt during an "offline" install fails loudly.
DEAD_PROXY = "http://127.0.0.1:9"


def root_script() -> Path:
    """scripts/arm64_root.sh in a source checkout."""
    return Path(__file__).resolve().parent.parent / "scripts" / "arm64_root.sh"


def default_root(suite: str = "bookworm") -> Path:
    cache = Path(os.environ.get("EDGEPACK_CACHE") or Path.home() / ".cache" / "edgepack")
    return cache / ("arm64-root" if suite == "bookworm" else f"arm64-root-{suite}")


def ensure_root(suite: str = "bookworm", root: str | Path | None = None) -> Path:
    """Build the arm64 root once (cached; a finished root is reused in about a second)."""
    root = Path(root) if root else default_root(suite)
    script = root_script()
    if not script.is_file():
        raise TargetError(f"{script}: not found; the arm64 root is built from an edgepack source checkout")
    env = dict(os.environ, EDGEPACK_ARM64_SUITE=suite)
    proc = subprocess.run(["sh", str(script), str(root)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TargetError(f"{script} {root} failed:\n{proc.stderr.strip()[-3000:]}")
    return root


@dataclass(frozen=True)
class Arm64Python:
    """The python of an arm64 root, run under qemu-aarch64-static."""

    root: Path
    python: str = "3.11"
    cpu: str = CPU
    qemu: str = QEMU

    @property
    def executable(self) -> Path:
        return self.root / "usr" / "bin" / f"python{self.python}"

    def prefix(self) -> list[str]:
        """The command prefix that makes an aarch64 program runnable here (install.sh's EDGEPACK_EXEC)."""
        qemu = shutil.which(self.qemu)
        if qemu is None:
            raise TargetError(f"{self.qemu} not found; install it: apt-get install -y qemu-user-static")
        return [qemu, "-cpu", self.cpu, "-L", str(self.root)]

    def command(self, args: list[str], python: str | Path | None = None) -> list[str]:
        return self.prefix() + [str(python or self.executable)] + [str(a) for a in args]

    def run(self, args: list[str], python: str | Path | None = None, offline: bool = False, **kw):
        """subprocess.run of the emulated python; ``offline`` cuts the network (see offline_command)."""
        cmd = self.command(args, python)
        env = dict(kw.pop("env", None) or os.environ)
        if offline:
            cmd = offline_command(cmd)
            env.update(http_proxy=DEAD_PROXY, https_proxy=DEAD_PROXY, HTTP_PROXY=DEAD_PROXY, HTTPS_PROXY=DEAD_PROXY)
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(cmd, env=env, **kw)

    def make_venv(self, dest: str | Path, wheelhouse: str | Path, requirements: list[str], offline: bool = True) -> Path:
        """A venv in ``dest`` with ``requirements`` installed from ``wheelhouse`` only (no index)."""
        dest = Path(dest)
        proc = self.run(["-m", "venv", "--without-pip", str(dest)])
        if proc.returncode != 0:
            raise TargetError(f"emulated python -m venv {dest} failed:\n{proc.stderr}")
        pip_whl = sorted(Path(wheelhouse).glob("pip-*.whl"))
        if not pip_whl:
            raise TargetError(f"{wheelhouse}: no pip wheel; rebuild the wheelhouse")
        proc = self.run(
            [f"{pip_whl[-1]}/pip", "install", "--no-index", "--find-links", str(wheelhouse),
             "--disable-pip-version-check", "--no-compile", *requirements],
            python=dest / "bin" / "python",
            offline=offline,
        )  # fmt: skip
        if proc.returncode != 0:
            raise TargetError(f"offline pip install into {dest} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return dest


def runtime_pythonpath() -> str:
    """PYTHONPATH for an emulated python that runs edgepack's device code (the bench worker, the
    service) in a venv holding only the device wheels: the edgepack-runtime wheel file itself. It is
    pure Python, so zipimport reads it in place -- the same file a Pi installs, nothing symlinked."""
    from edgepack.runtime_wheel import runtime_wheel

    return str(runtime_wheel().path)


_UNSHARE_OK: bool | None = None

# A fresh network namespace has only `lo`, and it is down: bring it up (SIOCSIFFLAGS) so the
# service can still answer on 127.0.0.1, then exec the command. No iproute2 needed.
_LO_UP = """
import fcntl, os, socket, struct, sys
s = socket.socket()
fcntl.ioctl(s, 0x8914, struct.pack("16sh", b"lo", 0x1 | 0x8 | 0x40))  # IFF_UP|IFF_LOOPBACK|IFF_RUNNING
s.close()
os.execvp(sys.argv[1], sys.argv[1:])
"""


def offline_available() -> bool:
    global _UNSHARE_OK
    if _UNSHARE_OK is None:
        unshare = shutil.which("unshare")
        _UNSHARE_OK = bool(unshare) and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0
    return _UNSHARE_OK


def offline_command(cmd: list[str]) -> list[str]:
    """Run ``cmd`` in a network namespace with loopback only, when the kernel lets us (root, or
    unprivileged user namespaces); otherwise leave it to the dead proxy and --no-index."""
    if not offline_available():
        return list(cmd)
    return ["unshare", "-rn", sys.executable, "-c", _LO_UP, *cmd]
