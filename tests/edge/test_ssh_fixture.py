"""The sshd fixture is what `edgepack deploy` is tested against: prove it is real and strict."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.ssh


def test_key_login_runs_a_command(sshd):
    proc = sshd.ssh("echo", "edgepack-$((6*7))")
    assert proc.returncode == 0, proc.stderr + sshd.log.read_text()
    assert proc.stdout.strip() == "edgepack-42"


def test_unknown_host_key_is_refused(sshd, tmp_path):
    # Host-key checking is on: an empty known_hosts must make ssh refuse, not ask or add.
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    args = [a if not a.startswith("UserKnownHostsFile=") else f"UserKnownHostsFile={empty}" for a in sshd.ssh_args()]
    proc = subprocess.run(
        ["ssh", *args, "-p", str(sshd.port), sshd.target, "true"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 255
    assert "Host key verification failed" in proc.stderr
    assert empty.read_text() == ""


def test_other_key_is_refused(sshd, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    args = [str(other) if a == str(sshd.key) else a for a in sshd.ssh_args()]
    proc = subprocess.run(
        ["ssh", *args, "-p", str(sshd.port), sshd.target, "true"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 255
    assert "Permission denied" in proc.stderr
