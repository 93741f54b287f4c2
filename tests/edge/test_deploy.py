"""`deploy` against a real sshd on 127.0.0.1 with a key made by the test; the "device" is the
emulated aarch64 python behind it."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile

import pytest

from edgepack.edge.deploy import check_package, deploy
from edgepack.errors import ArtifactError, TargetError

pytestmark = [pytest.mark.ssh]


def _remote_env(device) -> dict:
    env = device.env()
    return {k: v for k, v in env.items() if k.startswith("EDGEPACK_") or k.lower().endswith("_proxy")}


@pytest.mark.aarch64
@pytest.mark.slow
def test_deploy_installs_and_serves(rpi_packages, device, sshd):
    result = deploy(rpi_packages["v1.tar.gz"], sshd.target, port=sshd.port, ssh_options=sshd.ssh_args(),
                    remote_env=_remote_env(device))
    assert "installed sentiment 1.0.0-" in result.output
    assert device.current().startswith("versions/1.0.0-")
    status, ready = device.get("/readyz")
    assert status == 200 and ready["ok"]
    # the same package again: idempotent, nothing restarted
    pid = device.service_pid()
    again = deploy(rpi_packages["v1.tar.gz"], sshd.target, port=sshd.port, ssh_options=sshd.ssh_args(),
                   remote_env=_remote_env(device))
    assert "already installed and serving" in again.output and device.service_pid() == pid


def test_deploy_reports_a_failed_remote_install(rpi_packages, device, sshd):
    env = dict(_remote_env(device), EDGEPACK_PYTHON="/nonexistent/python3")
    with pytest.raises(TargetError, match="does not fit this package|does not run"):
        deploy(rpi_packages["v1.tar.gz"], sshd.target, port=sshd.port, ssh_options=sshd.ssh_args(), remote_env=env)
    assert device.current() is None


def test_deploy_refuses_an_unknown_host_key(rpi_packages, sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    opts = [f"UserKnownHostsFile={empty}" if o.startswith("UserKnownHostsFile=") else o for o in sshd.ssh_args()]
    with pytest.raises(TargetError, match="host key is not in known_hosts"):
        deploy(rpi_packages["v1.tar.gz"], sshd.target, port=sshd.port, ssh_options=opts)


def test_damaged_package_is_not_sent(rpi_packages, tmp_path):
    # Rewrite the archive with one changed byte in the model: SHA256SUMS no longer matches.
    src = rpi_packages["v1.tar.gz"]
    bad = tmp_path / src.name
    with tarfile.open(src) as tin, gzip.open(bad, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tout:
        for m in tin:
            data = tin.extractfile(m).read() if m.isfile() else None
            if data is not None and m.name.endswith(".onnx"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            tout.addfile(m, None if data is None else io.BytesIO(data))
    assert check_package(src).endswith("-linux-aarch64")
    with pytest.raises(ArtifactError, match=r"do not match SHA256SUMS:\n  model/model\.\w+\.onnx: FAILED"):
        deploy(bad, "root@127.0.0.1", port=1)
    shutil.copyfile(src, tmp_path / "trunc.tar.gz")
    with open(tmp_path / "trunc.tar.gz", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(ArtifactError, match="not a readable .tar.gz"):
        check_package(tmp_path / "trunc.tar.gz")
