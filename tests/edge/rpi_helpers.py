"""Helpers for driving a Raspberry Pi package the way a device does, here under qemu-aarch64."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from edgepack.edge import emulate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unpack(tar_gz: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_gz) as tar:
        tar.extractall(dest, filter="tar")
        top = tar.getnames()[0].split("/")[0]
    return dest / top


def reseal(pkg: Path) -> None:
    """Rewrite SHA256SUMS after a test changed the package on purpose (a consistent but bad package)."""
    from edgepack.runtime.hashing import sha256_file

    files = sorted(p for p in pkg.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    (pkg / "SHA256SUMS").write_text("".join(f"{sha256_file(p)}  {p.relative_to(pkg).as_posix()}\n" for p in files))


@dataclass
class Device:
    """An install prefix + port served by emulated aarch64 python (process manager, no systemd)."""

    py: emulate.Arm64Python
    prefix: Path
    port: int
    ready_timeout: int = 180
    extra_env: dict = field(default_factory=dict)

    def env(self) -> dict:
        env = dict(os.environ)
        for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env[k] = emulate.DEAD_PROXY  # any download attempt fails: the install must be offline
        env.update(
            EDGEPACK_EXEC=" ".join(self.py.prefix()),
            EDGEPACK_PYTHON=str(self.py.executable),
            EDGEPACK_PREFIX=str(self.prefix),
            EDGEPACK_PORT=str(self.port),
            EDGEPACK_SERVICE_MANAGER="process",
            EDGEPACK_READY_TIMEOUT=str(self.ready_timeout),
            EDGEPACK_PIP_COMPILE="0",  # halves the emulated install; a Pi keeps the default
            NO_PROXY="",
        )
        env.update(self.extra_env)
        return env

    def run_script(self, pkg: Path, script: str = "install.sh", offline_ns: bool = False, timeout: int = 600, **kw):
        cmd = ["sh", str(pkg / script)]
        if offline_ns:
            cmd = emulate.offline_command(cmd)
        return subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout, **kw)

    def current(self) -> str | None:
        link = self.prefix / "current"
        return os.readlink(link) if link.is_symlink() else None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, timeout: float = 10) -> tuple[int, dict | str]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.url(path), timeout=timeout) as r:
                body = r.read().decode()
                status = r.status
        except urllib.error.HTTPError as err:
            body, status = err.read().decode(), err.code
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def post(self, path: str, payload, timeout: float = 60) -> tuple[int, dict]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(self.url(path), data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with opener.open(req, timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def service_pid(self) -> int | None:
        pidfile = self.prefix / "run" / "service.pid"
        try:
            return int(pidfile.read_text())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        pid = self.service_pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
