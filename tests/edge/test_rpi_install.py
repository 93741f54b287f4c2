"""The Raspberry Pi package installed and served on aarch64 (qemu -cpu cortex-a72), offline:
x86 ONNX Runtime's answers, idempotent re-runs, refusal of a damaged package before activation,
rollback when the new version does not become ready, the version in /readyz, /metrics and
--status, upgrade, uninstall."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from edgepack.edge import wheelhouse

pytestmark = [pytest.mark.aarch64, pytest.mark.slow]

TEXTS = [
    "This movie was really great and amazing",
    "The service was terrible and the food was cold",
    "The museum opens at 9 o'clock",
    "",
    "naïve café — ünïcödé 🙂",
]


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


def _assert_x86_answers(build_dir, precision, texts, got):
    from edgepack.runtime.artifacts import PRECISION_TOLERANCE
    from edgepack.runtime.pipeline import Pipeline

    want = Pipeline.load(build_dir, precision=precision).predict(texts)
    tol = PRECISION_TOLERANCE[precision]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g["label"] == w["label"], (g, w)
        for label, p in w["probabilities"].items():
            assert abs(g["probabilities"][label] - p) <= tol, (precision, g, w)


def test_offline_install_serves_x86_answers(rpi_packages, device):
    from edgepack.edge import emulate

    if not emulate.offline_available():
        pytest.skip("no network namespaces here (unshare -rn); the dead-proxy install is covered below")
    cmd = emulate.offline_command(
        [sys.executable, "-c", OFFLINE_DRIVER, str(rpi_packages["v1"] / "install.sh"), str(device.port), json.dumps(TEXTS)]
    )
    proc = subprocess.run(cmd, env=device.env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rc"] == 0, out["stderr"]
    assert out["network"] != "reachable"
    assert "installed sentiment 1.0.0-" in out["stderr"]
    ready = out["readyz"]  # the golden vectors, checked on aarch64 by the service itself
    assert ready["ok"] and ready["checked"] >= 5 and ready["max_abs_diff"] <= ready["tolerance"], ready
    assert out["predict"]["precision"] == ready["precision"]
    _assert_x86_answers(rpi_packages["build"], ready["precision"], TEXTS, out["predict"]["results"])


def test_damaged_package_is_refused_before_anything_changes(rpi_packages, device, tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(rpi_packages["v1"], pkg)
    model = next((pkg / "model").glob("model.*.onnx"))
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    model.write_bytes(bytes(data))
    proc = device.run_script(pkg)
    assert proc.returncode == 3, proc.stderr
    assert "checksum verification failed, nothing was changed" in proc.stderr
    assert f"model/{model.name}: FAILED" in proc.stderr
    assert not device.prefix.exists()


def test_install_rerun_rollback_upgrade_uninstall(rpi_packages, device):
    # 1. first install (here without a network namespace: proxies point nowhere, pip --no-index)
    proc = device.run_script(rpi_packages["v1"])
    assert proc.returncode == 0, proc.stderr
    v1 = device.current()
    assert v1 and v1.startswith("versions/1.0.0-")
    status, ready = device.get("/readyz")
    assert status == 200 and ready["ok"]
    assert ready["version_id"] == v1.split("/")[1] and ready["version"] == "1.0.0" and ready["precision"]
    info = f'edgepack_model_info{{name="sentiment",version="1.0.0",version_id="{ready["version_id"]}",' \
           f'precision="{ready["precision"]}"}} 1'
    assert info in device.get("/metrics")[1].splitlines()
    status_out = device.run_script(rpi_packages["v1"], "install.sh", args=["--status"])
    assert status_out.returncode == 0, status_out.stderr
    assert f"current:   {ready['version_id']}" in status_out.stdout
    assert f"running:   pid {device.service_pid()}, version {ready['version_id']}" in status_out.stdout
    assert f"answering: http://127.0.0.1:{device.port}: {ready['version_id']} ({ready['precision']}, ready)" in status_out.stdout
    status, body = device.post("/v1/predict", {"text": TEXTS[0]})
    assert status == 200 and body["results"][0]["label"] == "Positive"
    status, metrics = device.get("/metrics")
    rss = [line for line in metrics.splitlines() if line.startswith("process_resident_memory_bytes ")]
    assert status == 200 and rss
    print(f"service RSS on aarch64 under qemu: {int(rss[0].split()[1]) / 2**20:.0f} MiB (qemu adds its own)")
    pid1 = device.service_pid()

    # 2. re-running the same package changes nothing and keeps the same process
    proc = device.run_script(rpi_packages["v1"])
    assert proc.returncode == 0, proc.stderr
    assert "already installed and serving" in proc.stderr
    assert device.current() == v1 and device.service_pid() == pid1

    # 3. a new version that never becomes ready is rolled back; the old one serves again
    proc = device.run_script(rpi_packages["v2-broken"])
    assert proc.returncode == 1, proc.stderr
    assert "did not become ready" in proc.stderr and "rolled back: 1.0.0-" in proc.stderr
    assert device.current() == v1
    assert device.get("/readyz")[0] == 200
    assert [p.name for p in (device.prefix / "versions").iterdir()] == [v1.split("/")[1]]
    assert not (device.prefix / ".pending").exists()

    # 4. a signal before the new version is verified cancels: the old one never stopped serving
    #    (every kill point, SIGKILL and power loss: test_upgrade_kill.py)
    proc = device.start_script(rpi_packages["v2"], pause_at="built")
    os.killpg(proc.pid, signal.SIGTERM)
    os.killpg(proc.pid, signal.SIGCONT)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 143 and "interrupted: rolling back to 1.0.0-" in err, err
    assert device.current() == v1 and device.get("/readyz")[0] == 200
    assert device.journal()["state"] == "committed" and set(device.service_processes().values()) == {v1.split("/")[1]}

    # 5. a good upgrade switches, keeps the previous version for manual rollback
    proc = device.run_script(rpi_packages["v2"])
    assert proc.returncode == 0, proc.stderr
    v2 = device.current()
    assert v2.startswith("versions/1.0.1-")
    assert (device.prefix / "previous").resolve() == (device.prefix / v1).resolve()
    status, body = device.post("/v1/predict", {"texts": TEXTS})
    assert status == 200 and body["precision"] == "fp32"
    _assert_x86_answers(rpi_packages["build"], "fp32", TEXTS, body["results"])
    assert (device.prefix / v2 / "bin" / "sentiment").is_file()

    # 6. uninstall stops the service and removes the install
    pid2 = device.service_pid()
    proc = device.run_script(rpi_packages["v2"], "uninstall.sh")
    assert proc.returncode == 0, proc.stderr
    assert not device.prefix.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid2, 0)


def test_wheelhouse_in_package_matches_its_index(rpi_packages):
    wh = rpi_packages["v1"] / "wheelhouse" / "py311"
    house = wheelhouse.load(wh)
    assert house.wheels["onnxruntime"]["version"] == wheelhouse.ONNXRUNTIME_VERSION
    reqs = (wh / "requirements.txt").read_text().split()
    assert reqs[0] == f"onnxruntime=={wheelhouse.ONNXRUNTIME_VERSION}" and any(r.startswith("uvicorn==") for r in reqs)
