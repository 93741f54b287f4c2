"""Plain helpers of the Raspberry Pi tests (fixtures are in conftest.py): an emulated device's
install prefix (:class:`Device`), packages unpacked and resealed, a real sshd on 127.0.0.1
(:func:`ssh_server`), free ports, and the rule that a missing tool skips -- except in CI
(``CI`` or ``EDGEPACK_REQUIRE_EDGE`` set), where scripts/setup.sh installs the tools and a skip
would hide a broken setup."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edgepack.edge import emulate
from tests.repo_support import REPO, cache  # noqa: F401  (REPO: re-used by the edge tests)

REQUIRED = bool(os.environ.get("CI") or os.environ.get("EDGEPACK_REQUIRE_EDGE"))


def missing(reason: str):
    """Skip, or fail where the tools must be there (CI / EDGEPACK_REQUIRE_EDGE)."""
    if REQUIRED:
        pytest.fail(f"{reason} (required here: CI / EDGEPACK_REQUIRE_EDGE is set; run scripts/setup.sh)")
    pytest.skip(reason)


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

    def run_script(self, pkg: Path, script: str = "install.sh", offline_ns: bool = False, timeout: int = 600,
                   args: list[str] = (), **kw):
        cmd = ["sh", str(pkg / script), *args]
        if offline_ns:
            cmd = emulate.offline_command(cmd)
        return subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout, **kw)

    def start_script(self, pkg: Path, pause_at: str | None = None, script: str = "install.sh") -> subprocess.Popen:
        """install.sh in its own process group (a test kills the group, as a dropped ssh session
        or a power cut would). ``pause_at``: it stops itself (SIGSTOP) right after writing that
        journal state; this returns once it has."""
        env = self.env()
        if pause_at:
            env["EDGEPACK_INSTALL_PAUSE_AT"] = pause_at
        proc = subprocess.Popen(["sh", str(pkg / script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        deadline = time.monotonic() + 600
        while pause_at and _state(proc.pid) != "T":
            assert proc.poll() is None, f"install.sh exited before pausing at {pause_at}: {proc.communicate()}"
            assert time.monotonic() < deadline, f"install.sh never reached {pause_at}"
            time.sleep(0.02)
        return proc

    def journal(self) -> dict:
        try:
            text = (self.prefix / ".journal").read_text()
        except OSError:
            return {}
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

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

    def service_processes(self) -> dict[int, str]:
        """pid -> version id of every service process of this install (as install.sh finds them:
        by command line, so a process whose pid file was never written is found too)."""
        found = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                args = (proc / "cmdline").read_bytes().split(b"\0")
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if b"edgepack.edge.service" in args and b"--version-id" in args and state != "Z":
                vid = args[args.index(b"--version-id") + 1].decode()
                if f"{self.prefix}/versions/{vid}/model".encode() in args:
                    found[int(proc.name)] = vid
        return found

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop every service process of this install (``sig``, then SIGKILL after 10 s)."""
        pids = set(self.service_processes())
        if self.service_pid() is not None:
            pids.add(self.service_pid())
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline:
            pids = {p for p in pids if _alive(p)}
            time.sleep(0.05)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _state(pid: int) -> str | None:
    """The process state letter (R, S, T stopped, Z zombie, ...) or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z")


# ---------------------------------------------------------------------------------- aarch64


@dataclass(frozen=True)
class SSHServer:
    """A real OpenSSH server on 127.0.0.1 that trusts one key made by the test."""

    host: str
    port: int
    user: str
    key: Path  # private key of the user
    known_hosts: Path  # holds the server's host key: StrictHostKeyChecking stays on
    config: Path  # ssh_config for the client with all of the above
    log: Path

    @property
    def target(self) -> str:
        return f"{self.user}@{self.host}"

    def ssh_args(self) -> list[str]:
        """Options for ``ssh``/``scp``: this server's key and known_hosts, nothing from ~/.ssh."""
        return [
            "-F", str(self.config),
            "-i", str(self.key),
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
        ]  # fmt: skip

    def ssh(self, *command: str, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(["ssh", *self.ssh_args(), "-p", str(self.port), self.target, *command], **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgepack-test", "-f", str(path)], check=True)


@contextlib.contextmanager
def ssh_server(d: Path):
    """Start an sshd in directory ``d`` (its own host key, user key, port); stop it on exit.
    tests/edge/fleet_support.py starts several (one per emulated device)."""
    sshd_bin = Path("/usr/sbin/sshd")
    if not sshd_bin.exists() or shutil.which("ssh") is None:
        missing("OpenSSH server/client not installed (apt-get install -y openssh-server openssh-client)")
    os.chmod(d, 0o700)
    _keygen(d / "host_ed25519")
    _keygen(d / "user_ed25519")
    (d / "authorized_keys").write_text((d / "user_ed25519.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    port = free_port()
    user = getpass.getuser()
    # Debian's sshd refuses to start without its privilege-separation directory.
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    config = d / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"HostKey {d / 'host_ed25519'}",
                f"AuthorizedKeysFile {d / 'authorized_keys'}",
                f"PidFile {d / 'sshd.pid'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                # No PAM: no system login stack needed for a throwaway server; StrictModes off
                # because pytest's temp dirs are not owned the way sshd wants for ~/.ssh.
                "UsePAM no",
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    host_pub = (d / "host_ed25519.pub").read_text().split()
    known_hosts = d / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    client_config = d / "ssh_config"
    client_config.write_text(
        "Host *\n  IdentitiesOnly yes\n  BatchMode yes\n  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking yes\n  ConnectTimeout 10\n  LogLevel ERROR\n"
    )
    log = d / "sshd.log"
    logf = open(log, "wb")
    proc = subprocess.Popen(
        [str(sshd_bin), "-D", "-e", "-f", str(config), "-p", str(port)], stdout=logf, stderr=subprocess.STDOUT
    )
    server = SSHServer("127.0.0.1", port, user, d / "user_ed25519", known_hosts, client_config, log)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sshd exited with {proc.returncode}:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"sshd did not listen on 127.0.0.1:{port}:\n{log.read_text()}")
                time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logf.close()
