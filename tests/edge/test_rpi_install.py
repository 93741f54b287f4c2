"""The Raspberry Pi package installed and served on aarch64 (qemu -cpu cortex-a72), offline:
x86 ONNX Runtime's answers, idempotent re-runs, refusal of a damaged package before activation,
rollback when the new version does not become ready, upgrade, uninstall."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from rpi_helpers import Device, free_port, reseal, unpack

from edgepack.edge import wheelhouse
from edgepack.edge.package import build_package

pytestmark = [pytest.mark.aarch64, pytest.mark.slow]

TEXTS = [
    "This movie was really great and amazing",
    "The service was terrible and the food was cold",
    "The museum opens at 9 o'clock",
    "",
    "naïve café — ünïcödé 🙂",
]


@pytest.fixture(scope="module")
def packages(sentiment_project, aarch64_wheelhouse, tmp_path_factory):
    """v1 (1.0.0), v2 (1.0.1) and v2 missing the server library (installs, self-tests, never serves)."""
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
    pkgs = {"v1": unpack(v1.path, tmp / "v1"), "v2": unpack(v2.path, tmp / "v2")}
    broken = unpack(v2.path, tmp / "v2-broken")
    reqs = broken / "wheelhouse" / "py311" / "requirements.txt"
    reqs.write_text("".join(line + "\n" for line in reqs.read_text().split() if not line.startswith("uvicorn")))
    reseal(broken)
    pkgs["v2-broken"] = broken
    return pkgs


@pytest.fixture
def device(arm64_python, tmp_path):
    dev = Device(py=arm64_python, prefix=tmp_path / "opt" / "sentiment", port=free_port())
    yield dev
    dev.stop()


# Runs inside a network namespace with loopback only: install, then ask the service.
OFFLINE_DRIVER = r"""
import json, subprocess, sys, time, urllib.request
install, port, texts = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
proc = subprocess.run(["sh", install], capture_output=True, text=True)
out = {"rc": proc.returncode, "stderr": proc.stderr}
if proc.returncode == 0:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/readyz", timeout=30) as r:
        out["readyz"] = json.loads(r.read())
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/predict", method="POST",
                                 data=json.dumps({"texts": texts}).encode())
    with opener.open(req, timeout=120) as r:
        out["predict"] = json.loads(r.read())
    try:
        urllib.request.urlopen("https://pypi.org/simple/", timeout=5)
        out["network"] = "reachable"
    except OSError as e:
        out["network"] = type(e).__name__
print(json.dumps(out))
"""


def test_offline_install_serves_x86_answers(packages, device, sentiment_project):
    import subprocess

    from edgepack.edge import emulate
    from edgepack.runtime.pipeline import Pipeline

    if not emulate.offline_available():
        pytest.skip("no network namespaces here (unshare -rn); the dead-proxy install is covered below")
    cmd = emulate.offline_command(
        [sys.executable, "-c", OFFLINE_DRIVER, str(packages["v1"] / "install.sh"), str(device.port), json.dumps(TEXTS)]
    )
    proc = subprocess.run(cmd, env=device.env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rc"] == 0, out["stderr"]
    assert out["network"] != "reachable"
    assert "installed sentiment 1.0.0-" in out["stderr"]
    ready = out["readyz"]
    assert ready["ok"] and ready["checked"] >= 5 and ready["max_abs_diff"] <= 1e-5, ready

    want = Pipeline.load(sentiment_project / "build", precision=ready["precision"]).predict(TEXTS)
    got = out["predict"]["results"]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g["label"] == w["label"]
        for label, p in w["probabilities"].items():
            assert abs(g["probabilities"][label] - p) <= 1e-5, (g, w)


def test_damaged_package_is_refused_before_anything_changes(packages, device, tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(packages["v1"], pkg)
    model = next((pkg / "model").glob("model.*.onnx"))
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    model.write_bytes(bytes(data))
    proc = device.run_script(pkg)
    assert proc.returncode == 3, proc.stderr
    assert "checksum verification failed, nothing was changed" in proc.stderr
    assert f"model/{model.name}: FAILED" in proc.stderr
    assert not device.prefix.exists()


def test_install_rerun_rollback_upgrade_uninstall(packages, device):
    # 1. first install (here without a network namespace: proxies point nowhere, pip --no-index)
    proc = device.run_script(packages["v1"])
    assert proc.returncode == 0, proc.stderr
    v1 = device.current()
    assert v1 and v1.startswith("versions/1.0.0-")
    status, ready = device.get("/readyz")
    assert status == 200 and ready["ok"]
    status, body = device.post("/v1/predict", {"text": TEXTS[0]})
    assert status == 200 and body["results"][0]["label"] == "Positive"
    pid1 = device.service_pid()

    # 2. re-running the same package changes nothing and keeps the same process
    proc = device.run_script(packages["v1"])
    assert proc.returncode == 0, proc.stderr
    assert "already installed and serving" in proc.stderr
    assert device.current() == v1 and device.service_pid() == pid1

    # 3. a new version that never becomes ready is rolled back; the old one serves again
    proc = device.run_script(packages["v2-broken"])
    assert proc.returncode == 1, proc.stderr
    assert "did not become ready" in proc.stderr and "rolled back: 1.0.0-" in proc.stderr
    assert device.current() == v1
    assert device.get("/readyz")[0] == 200
    assert [p.name for p in (device.prefix / "versions").iterdir()] == [v1.split("/")[1]]
    assert not (device.prefix / ".pending").exists()

    # 4. a good upgrade switches, keeps the previous version for manual rollback
    proc = device.run_script(packages["v2"])
    assert proc.returncode == 0, proc.stderr
    v2 = device.current()
    assert v2.startswith("versions/1.0.1-")
    assert (device.prefix / "previous").resolve() == (device.prefix / v1).resolve()
    status, body = device.post("/v1/predict", {"texts": TEXTS[:2]})
    assert status == 200 and [r["label"] for r in body["results"]] == ["Positive", "Negative"]
    assert (device.prefix / v2 / "bin" / "sentiment").is_file()

    # 5. uninstall stops the service and removes the install
    pid2 = device.service_pid()
    proc = device.run_script(packages["v2"], "uninstall.sh")
    assert proc.returncode == 0, proc.stderr
    assert not device.prefix.exists()
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid2, 0)


def test_wheelhouse_in_package_matches_its_index(packages):
    wh = packages["v1"] / "wheelhouse" / "py311"
    house = wheelhouse.load(wh)
    assert house.wheels["onnxruntime"]["version"] == wheelhouse.ONNXRUNTIME_VERSION
    reqs = (wh / "requirements.txt").read_text().split()
    assert reqs[0] == f"onnxruntime=={wheelhouse.ONNXRUNTIME_VERSION}" and any(r.startswith("uvicorn==") for r in reqs)
