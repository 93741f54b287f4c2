"""Fixtures for the Raspberry Pi target: an emulated arm64 python, offline aarch64 wheelhouses,
a real sshd on 127.0.0.1.

Heavy things are built once and cached across runs in ``$EDGEPACK_CACHE`` (arm64 root ~25-40 s,
wheelhouse one pip download). A missing tool skips these tests with the reason -- except in CI
(``CI`` or ``EDGEPACK_REQUIRE_EDGE`` set), where scripts/setup.sh installs the tools, so a skip
would hide a broken setup: there it fails.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgepack.edge import emulate, wheelhouse

REQUIRED = bool(os.environ.get("CI") or os.environ.get("EDGEPACK_REQUIRE_EDGE"))


def _missing(reason: str):
    if REQUIRED:
        pytest.fail(f"{reason} (required here: CI / EDGEPACK_REQUIRE_EDGE is set; run scripts/setup.sh)")
    pytest.skip(reason)


def _cache() -> Path:
    # Not the sandboxed per-test EDGEPACK_CACHE: these are expensive and safe to share.
    return Path(os.environ.get("EDGEPACK_TEST_CACHE") or os.environ.get("EDGEPACK_CACHE") or Path.home() / ".cache" / "edgepack")


# ---------------------------------------------------------------------------------- aarch64


@pytest.fixture(scope="session")
def arm64_root() -> Path:
    for tool, pkg in (("qemu-aarch64-static", "qemu-user-static"), ("debootstrap", "debootstrap")):
        if shutil.which(tool) is None:
            _missing(f"{tool} not installed (apt-get install -y {pkg})")
    if os.geteuid() != 0 and not (_cache() / "arm64-root" / ".edgepack-arm64-root").exists():
        _missing("building the arm64 root needs root (debootstrap); run once as root or set EDGEPACK_TEST_CACHE")
    return emulate.ensure_root("bookworm", _cache() / "arm64-root")


@pytest.fixture(scope="session")
def arm64_python(arm64_root) -> emulate.Arm64Python:
    """Bookworm's python3.11 (Raspberry Pi OS Bookworm) under qemu -cpu cortex-a72."""
    return emulate.Arm64Python(root=arm64_root, python="3.11")


@pytest.fixture(scope="session")
def aarch64_wheelhouse() -> wheelhouse.Wheelhouse:
    """The cp311 aarch64 wheelhouse (downloaded once from PyPI, then reused offline)."""
    try:
        return wheelhouse.build("3.11", dest=_cache() / "wheelhouse" / f"aarch64-cp311-ort{wheelhouse.ONNXRUNTIME_VERSION}")
    except Exception as exc:  # no PyPI here and nothing cached
        _missing(f"cannot build the aarch64 wheelhouse: {exc}")


@pytest.fixture(scope="session")
def arm64_venv(arm64_python, aarch64_wheelhouse, tmp_path_factory) -> Path:
    """A venv of the emulated python with onnxruntime, numpy and the service's libraries,
    installed from the wheelhouse with the network cut off."""
    dest = tmp_path_factory.mktemp("arm64") / "venv"
    return arm64_python.make_venv(dest, aarch64_wheelhouse.path, list(wheelhouse.TOP_LEVEL), offline=True)


# ---------------------------------------------------------------------------------- ssh


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgepack-test", "-f", str(path)], check=True)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    sshd_bin = Path("/usr/sbin/sshd")
    if not sshd_bin.exists() or shutil.which("ssh") is None:
        _missing("OpenSSH server/client not installed (apt-get install -y openssh-server openssh-client)")
    d = tmp_path_factory.mktemp("sshd")
    os.chmod(d, 0o700)
    _keygen(d / "host_ed25519")
    _keygen(d / "user_ed25519")
    (d / "authorized_keys").write_text((d / "user_ed25519.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    port = _free_port()
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
