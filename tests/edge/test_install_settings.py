"""install.sh before it touches anything: the tools it needs and the settings it is given.

Each bad value is refused with its documented exit code (2: a bad setting, 4: this system does
not fit) and a message naming the variable -- never a shell error half-way, never a change to the
install prefix. Fast: no package, no python; install.sh stops before reading either."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "edge" / "templates"


@pytest.fixture()
def package(tmp_path) -> Path:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    shutil.copyfile(TEMPLATES / "install.sh", pkg / "install.sh")
    (pkg / "package.env").write_text("EDGEPACK_NAME='demo'\nEDGEPACK_VERSION='1.0.0'\nEDGEPACK_DEFAULT_PORT='8080'\n")
    return pkg


def _run(pkg: Path, *args: str, env: dict[str, str], path: str | None = None) -> subprocess.CompletedProcess:
    base = {"PATH": path or "/usr/sbin:/usr/bin:/sbin:/bin", "EDGEPACK_PREFIX": str(pkg.parent / "prefix"),
            "EDGEPACK_SERVICE_MANAGER": "process"}
    return subprocess.run(["/bin/sh", str(pkg / "install.sh"), *args], capture_output=True, text=True,
                          env={**base, **env}, timeout=30)


BAD = {
    "EDGEPACK_PORT": ["http", "-1", "0", "65536", "99999999999999999999999", "80 80", "08080"],
    "EDGEPACK_READY_TIMEOUT": ["soon", "-5", "1.5", "99999999999999999999", "010"],
    "EDGEPACK_DRAIN_TIMEOUT": ["x", "-1", "1e9", "$(reboot)"],
    "EDGEPACK_KEEP_VERSIONS": ["0", "two", "-2", "100"],
    "EDGEPACK_HOST": ["a b", "host;reboot", "'x'", "h\nPORT=1"],
    "EDGEPACK_SERVICE_MANAGER": ["upstart", "systemd process"],
}  # an empty value means the default, like an unset one (documented in install.sh)


@pytest.mark.parametrize("name,value", [(n, v) for n, vs in BAD.items() for v in vs])
def test_a_bad_setting_is_exit_2_named_and_changes_nothing(package, name, value):
    for args in ([], ["--status"], ["--recover"]):
        proc = _run(package, *args, env={name: value})
        assert proc.returncode == 2, (name, value, args, proc.returncode, proc.stderr)
        assert f"{name}=" in proc.stderr and "error:" in proc.stderr, proc.stderr
    assert not (package.parent / "prefix").exists()


def test_good_edge_values_pass_the_checks(package):
    """The bounds themselves are accepted: the run gets past the settings (and stops later, at the python)."""
    env = {"EDGEPACK_PORT": "65535", "EDGEPACK_READY_TIMEOUT": "0", "EDGEPACK_DRAIN_TIMEOUT": "0",
           "EDGEPACK_KEEP_VERSIONS": "1", "EDGEPACK_HOST": "::", "EDGEPACK_PYTHON": "/nonexistent/python3"}
    proc = _run(package, "--status", env=env)
    assert proc.returncode == 0, proc.stderr


def test_a_system_without_its_tools_is_exit_4_named(package, tmp_path):
    """Found by the real-systemd test: without awk, `--recover` switched but never stopped the old
    version (every `running | awk` came back empty) and still exited 0."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "grep", "sort", "cut", "tr", "readlink", "sha256sum", "date", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    for args in ([], ["--status"], ["--recover"]):
        proc = _run(package, *args, env={}, path=str(bin_dir))
        assert proc.returncode == 4, (args, proc.returncode, proc.stderr)
        assert "'awk' not found" in proc.stderr, proc.stderr
    assert not (package.parent / "prefix").exists()
