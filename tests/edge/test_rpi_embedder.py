"""The Raspberry Pi package of a sentence embedder (samples/minilm-embedder, Hugging Face format),
installed offline and served on aarch64 (qemu -cpu cortex-a72): POST /v1/embed and the golden
vectors give x86 ONNX Runtime's embeddings -- fp32 |Δ| <= 1e-5, int8 <= 1e-3.

One emulated install (the package's precision, chosen by the build's gates); the other precision
runs through the same installed aarch64 venv and runtime without the service."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.repo_support import fresh_copy
from tests.edge.device_support import unpack

pytestmark = [pytest.mark.aarch64, pytest.mark.slow]

TOLERANCE = {"fp32": 1e-5, "int8": 1e-3}
EXTRA_TEXTS = ["", "naïve café — ünïcödé 🙂", "a " * 600]  # empty, non-ASCII, truncated to max positions

# Runs inside a network namespace with loopback only (when the kernel allows): install, then ask.
DRIVER = r"""
import json, subprocess, sys, urllib.request, urllib.error
install, port, texts = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
proc = subprocess.run(["sh", install], capture_output=True, text=True)
out = {"rc": proc.returncode, "stderr": proc.stderr}
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

def call(path, payload=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if payload is not None else "GET",
                                 data=None if payload is None else json.dumps(payload).encode())
    try:
        with opener.open(req, timeout=300) as r:
            body, status = r.read(), r.status
    except urllib.error.HTTPError as err:
        body, status = err.read(), err.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()

if proc.returncode == 0:
    out["readyz"] = call("/readyz")
    out["embed"] = call("/v1/embed", {"texts": texts})
    out["embed_one"] = call("/v1/embed", {"text": texts[0]})
    out["predict"] = call("/v1/predict", {"text": texts[0]})
    out["bad"] = call("/v1/embed", {"texts": "not a list"})
    out["metrics"] = call("/metrics")
print(json.dumps(out))
"""

# The installed aarch64 venv + runtime, without the service: embeddings of one precision.
PROBE = r"""
import json, platform, sys
from edgepack.runtime.pipeline import Pipeline
p = Pipeline.load(sys.argv[1], precision=sys.argv[2])
texts = json.loads(sys.argv[3])
print(json.dumps({"machine": platform.machine(), "self_test": p.self_test().as_dict(),
                  "embeddings": [r["embedding"] for r in p.predict(texts)]}))
"""


@pytest.fixture(scope="module")
def embedder_package(aarch64_wheelhouse, built_sample, tmp_path_factory):
    pytest.importorskip("transformers", reason="the hf extra (transformers) is needed to export the HF-format sample")
    from edgepack.build import build

    root = tmp_path_factory.mktemp("rpi-embedder")
    project = fresh_copy(built_sample("minilm-embedder", "quantize"), root)  # exported + quantized once per run
    result = build(project, target="rpi", out=root / "dist", pythons=["3.11"],
                   wheelhouses={"3.11": aarch64_wheelhouse.path})
    pkg = unpack(result.artifact["package"], root / "pkg")
    texts = list(json.loads((project / "build" / "manifest.json").read_text())["examples"]) + EXTRA_TEXTS
    return {"build": project / "build", "pkg": pkg, "precision": result.artifact["precision"], "texts": texts,
            "bytes": result.artifact["bytes"]}


def _x86(build_dir, precision, texts) -> np.ndarray:
    from edgepack.runtime.pipeline import Pipeline

    return np.array([r["embedding"] for r in Pipeline.load(build_dir, precision=precision).predict(texts)])


def _assert_close(got, want, precision):
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape
    diff = float(np.max(np.abs(got - want)))
    assert diff <= TOLERANCE[precision], (precision, diff)
    return diff


def test_embedder_installs_offline_and_embeds_like_x86(embedder_package, device, arm64_python):
    from edgepack.edge import emulate

    pkg, texts, shipped = embedder_package["pkg"], embedder_package["texts"], embedder_package["precision"]
    cmd = emulate.offline_command([sys.executable, "-c", DRIVER, str(pkg / "install.sh"), str(device.port), json.dumps(texts)])
    proc = subprocess.run(cmd, env=device.env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rc"] == 0, out["stderr"]
    assert "installed minilm-embedder 1.0.0-" in out["stderr"]

    status, ready = out["readyz"]  # the golden vectors, checked on aarch64 by the service itself
    assert status == 200 and ready["ok"] and ready["checked"] >= 5 and ready["precision"] == shipped, ready
    assert ready["max_abs_diff"] <= TOLERANCE[shipped]

    status, body = out["embed"]
    assert status == 200 and body["precision"] == shipped and body["model"] == "minilm-embedder"
    want = _x86(embedder_package["build"], shipped, texts)
    embeddings = [r["embedding"] for r in body["results"]]  # one Pipeline.predict result per text
    assert body["dim"] == want.shape[1] and len(embeddings) == len(texts)
    diff = _assert_close(embeddings, want, shipped)
    print(f"aarch64 service /v1/embed vs x86 ORT ({shipped}): max |Δ| {diff:.2e} over {len(texts)} texts")
    np.testing.assert_allclose(np.linalg.norm(want, axis=1), 1.0, atol=1e-5)  # L2-normalised in the graph

    status, one = out["embed_one"]
    assert status == 200 and len(one["results"]) == 1
    # alone, not as row 0 of the batch above: dynamic INT8 takes one activation scale per call, so a
    # text's int8 answer depends on its batch (1.3e-3 on x86 itself; README Known limits, "int8 batches")
    alone = _x86(embedder_package["build"], shipped, texts[:1])
    _assert_close([one["results"][0]["embedding"]], alone, shipped)
    status, err = out["predict"]
    assert status == 404 and "use POST /v1/embed" in err["error"]
    status, err = out["bad"]
    assert status == 422 and "expected a JSON object" in err["error"]
    status, metrics = out["metrics"]
    assert 'edgepack_requests_total{path="/v1/embed",status="200"} 2' in metrics
    rss = [line for line in metrics.splitlines() if line.startswith("process_resident_memory_bytes ")]
    assert rss
    print(f"embedder service RSS on aarch64 under qemu: {int(rss[0].split()[1]) / 2**20:.0f} MiB (qemu adds its own); "
          f"package {embedder_package['bytes'] / 1e6:.1f} MB (cp311 wheelhouse only)")

    # The other precision, through the installed aarch64 venv and runtime (no second install).
    other = "int8" if shipped == "fp32" else "fp32"
    venv_python = device.prefix / "current" / "venv" / "bin" / "python"
    proc = arm64_python.run(["-c", PROBE, str(embedder_package["build"]), other, json.dumps(texts)],
                            python=venv_python, timeout=900)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["machine"] == "aarch64" and got["self_test"]["ok"], got["self_test"]
    diff = _assert_close(got["embeddings"], _x86(embedder_package["build"], other, texts), other)
    print(f"aarch64 runtime vs x86 ORT ({other}): max |Δ| {diff:.2e}; golden max |Δ| {got['self_test']['max_abs_diff']:.2e}")

    # The device CLI (bin/<name> runs this module with the venv's python; no binfmt_misc here).
    proc = arm64_python.run(["-m", "edgepack.edge.device_cli", "--artifact", str(device.prefix / "current" / "model"),
                             "embed", texts[0]], python=venv_python, timeout=600)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["dim"] == want.shape[1] and line["text"] == texts[0]
    _assert_close([line["embedding"]], alone, shipped)  # one text, as above

    # bench.sh of the installed version: the rows of `edgepack bench --target aarch64`, here under
    # qemu (EDGEPACK_EXEC), so labelled emulated; its first output is x86's embedding of its text.
    report_file = device.prefix.parent / "bench.json"
    proc = subprocess.run(["sh", str(device.prefix / "current" / "bench.sh"), "--quick", "--out", str(report_file)],
                          env=device.env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_file.read_text())
    assert report["target"] == "aarch64" and report["machine"]["machine"] == "aarch64" and report["mode"] == "quick"
    (row,) = report["rows"]
    assert row["status"] == "ok" and row["emulated"] is True, row
    assert row["backend"] == f"aarch64-qemu-ort-{shipped}" and row["loaded"] == {"torch": False, "onnx": False, "onnxruntime": True}
    spec = json.loads((device.prefix / "current" / "bench" / "spec.json").read_text())
    assert {(m["mode"], m["batch"], m["seq_len"]) for m in row["measurements"]} == {
        (mode, b, s) for mode in ("e2e", "model") for b in spec["batch_sizes"] for s in spec["seq_lengths"]["quick"]}
    assert all(m["latency_ms"]["p50"] > 0 and m["throughput"] > 0 for m in row["measurements"])
    first_text = spec["texts"][str(spec["seq_lengths"]["quick"][0])][0]
    _assert_close([row["first_output"]], _x86(embedder_package["build"], shipped, [first_text])[:, :64], shipped)
    print("bench.sh (emulated) e2e p50 ms by batch:",
          {m["batch"]: round(m["latency_ms"]["p50"], 2) for m in row["measurements"] if m["mode"] == "e2e"})
