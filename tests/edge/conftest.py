"""Fixtures for the Raspberry Pi target: an emulated arm64 python, offline aarch64 wheelhouses,
a real sshd on 127.0.0.1.

Heavy things are built once and cached across runs in ``$EDGEPACK_CACHE`` (arm64 root ~25-40 s,
wheelhouse one pip download). A missing tool skips these tests with the reason -- except in CI
(``CI`` or ``EDGEPACK_REQUIRE_EDGE`` set), where scripts/setup.sh installs the tools, so a skip
would hide a broken setup: there it fails.
"""

from __future__ import annotations

import getpass
import json
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


@pytest.fixture(scope="session")
def rpi_packages(sentiment_project, aarch64_wheelhouse, tmp_path_factory):
    """v1 (1.0.0), v2 (1.0.1) and v2 missing the server library (installs, self-tests, never serves)."""
    from rpi_helpers import reseal, unpack

    from edgepack.edge.package import build_package

    tmp = tmp_path_factory.mktemp("rpi-packages")
    build = sentiment_project / "build"
    houses = {"3.11": aarch64_wheelhouse.path}
    v1 = build_package(build, tmp / "dist1", python="3.11", wheelhouses=houses)
    build2 = tmp / "build2"
    shutil.copytree(build, build2)
    manifest = json.loads((build2 / "manifest.json").read_text())
    manifest["model"]["version"] = "1.0.1"
    (build2 / "manifest.json").write_text(json.dumps(manifest, indent=2))
    v2 = build_package(build2, tmp / "dist2", python="3.11", wheelhouses=houses)
    pkgs = {"v1.tar.gz": v1.path, "v1": unpack(v1.path, tmp / "v1"), "v2": unpack(v2.path, tmp / "v2")}
    broken = unpack(v2.path, tmp / "v2-broken")
    reqs = broken / "wheelhouse" / "py311" / "requirements.txt"
    reqs.write_text("".join(line + "\n" for line in reqs.read_text().split() if not line.startswith("uvicorn")))
    reseal(broken)
    pkgs["v2-broken"] = broken
    return pkgs


@pytest.fixture
def device(arm64_python, tmp_path):
    """An empty install prefix and a free port; the service started there is stopped afterwards."""
    from rpi_helpers import Device

    dev = Device(py=arm64_python, prefix=tmp_path / "opt" / "sentiment", port=_free_port())
    yield dev
    dev.stop()


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
