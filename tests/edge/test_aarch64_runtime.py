"""onnxruntime from the offline aarch64 wheelhouse runs in an emulated Raspberry Pi python
(qemu -cpu cortex-a72) and gives x86 ONNX Runtime's answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgepack.edge import wheelhouse

pytestmark = [pytest.mark.aarch64, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """MatMul + Add + Softmax with dynamic batch: enough for ORT's CPU kernels and MLAS on arm64."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    w = rng.standard_normal((8, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"]),
            helper.make_node("Add", ["h", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every onnxruntime the wheelhouse may pin
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    onnx.save(model, path)
    x = rng.standard_normal((4, 8)).astype(np.float32)
    return path, x


PROBE = r"""
import json, platform, sys
import numpy as np, onnxruntime as ort
x = np.array(json.loads(sys.argv[2]), dtype=np.float32)
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
(y,) = s.run(None, {"x": x})
print(json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                  "ort": ort.__version__, "numpy": np.__version__, "y": y.tolist()}))
"""


def test_wheelhouse_is_aarch64_and_complete(aarch64_wheelhouse):
    files = [w["file"] for w in aarch64_wheelhouse.wheels.values()]
    assert all(f.endswith(("-none-any.whl", "_aarch64.whl")) for f in files), files
    assert aarch64_wheelhouse.wheels["onnxruntime"]["version"] == wheelhouse.ONNXRUNTIME_VERSION
    assert "cp311" in aarch64_wheelhouse.wheels["onnxruntime"]["file"]
    assert {"onnxruntime", "numpy", "starlette", "uvicorn", "pip"} <= set(aarch64_wheelhouse.wheels)


def test_emulated_python_is_aarch64(arm64_python):
    proc = arm64_python.run(["-c", "import platform; print(platform.machine(), platform.python_version())"])
    assert proc.returncode == 0, proc.stderr
    machine, version = proc.stdout.split()
    assert machine == "aarch64" and version.startswith("3.11.")


def test_onnxruntime_runs_under_emulation_like_x86(arm64_python, arm64_venv, tiny_model):
    import onnxruntime as ort

    path, x = tiny_model
    proc = arm64_python.run(["-c", PROBE, str(path), json.dumps(x.tolist())], python=arm64_venv / "bin" / "python")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["machine"] == "aarch64"
    assert got["ort"] == wheelhouse.ONNXRUNTIME_VERSION
    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    y = np.array(got["y"], dtype=np.float32)
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, atol=1e-5, rtol=0)
    assert (y.argmax(1) == want.argmax(1)).all()


def test_offline_install_really_has_no_network(arm64_python):
    # The venv fixture installs under emulate.offline_command; check the cut is real here.
    code = "import socket\ntry:\n socket.create_connection(('pypi.org', 443), timeout=5)\nexcept OSError as e:\n print('offline', type(e).__name__)\n"
    proc = arm64_python.run(["-c", code], offline=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("offline")
