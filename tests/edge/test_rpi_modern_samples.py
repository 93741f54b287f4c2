"""The RoBERTa-family samples on aarch64 (issue 14): samples/roberta-classifier (byte-level BPE) and
samples/xlmr-embedder (SentencePiece Unigram + Precompiled charsmap) go through `edgepack build --target
rpi`; the package's model and its edgepack-runtime wheel (the very file a Pi installs, zip-imported)
run in Raspberry Pi OS's python3.11 under qemu -cpu cortex-a72 and give x86's answers: token ids
exactly, fp32 within 1e-5, int8 within 1e-3, and the golden vectors pass on the device side.

The install / service path is covered once, by test_rpi_embedder.py; this is the tokenizer and model
equality of the two new model families."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.repo_support import fresh_copy
from tests.edge.device_support import unpack

pytestmark = [pytest.mark.aarch64, pytest.mark.slow]

SAMPLES = ("roberta-classifier", "xlmr-embedder")
TOLERANCE = {"fp32": 1e-5, "int8": 1e-3}
TEXTS = ["", "naïve café — ünïcödé 🙂👍🏽", "ภาษาไทยไม่มีช่องว่าง हिन्दी 日本語のテキスト", "ＦＵＬＬ ｗｉｄｔｈ ﬁne",
         "مرحبا بالعالم and שלום", "two  spaces\tand\na newline", "<s> </s> <mask>", "a " * 600]

# One text per call, as the service and the gates run (dynamic INT8 scales activations per batch).
PROBE = r"""
import json, platform, sys
from edgepack.runtime.pipeline import Pipeline
out = {"machine": platform.machine(), "runs": {}}
for directory, precision in json.loads(sys.argv[1]):
    p = Pipeline.load(directory, precision=precision)
    rows = []
    for t in json.loads(sys.argv[2]):
        feeds = p.encode([t])
        ids = [int(i) for i, m in zip(feeds["input_ids"][0], feeds["attention_mask"][0]) if m]
        r = p.predict([t])[0]
        rows.append({"ids": ids, "values": r["embedding"] if "embedding" in r else list(r["probabilities"].values())})
    out["runs"][precision] = {"self_test": p.self_test().as_dict(), "rows": rows}
print(json.dumps(out))
"""


@pytest.fixture(scope="module", params=SAMPLES)
def package(request, aarch64_wheelhouse, built_sample, tmp_path_factory):
    pytest.importorskip("transformers", reason="the hf extra (transformers) is needed to export the HF-format samples")
    from edgepack.build import build

    root = tmp_path_factory.mktemp(f"rpi-{request.param}")
    project = fresh_copy(built_sample(request.param, "quantize"), root)  # exported + quantized once per run
    result = build(project, target="rpi", out=root / "dist", pythons=["3.11"],
                   wheelhouses={"3.11": aarch64_wheelhouse.path})
    pkg = unpack(result.artifact["package"], root / "pkg")
    texts = list(json.loads((project / "build" / "manifest.json").read_text())["examples"]) + TEXTS
    return {"name": request.param, "build": project / "build", "pkg": pkg, "shipped": result.artifact["precision"],
            "texts": texts}


def _x86(build_dir, precision, texts):
    from edgepack.runtime.pipeline import Pipeline

    p = Pipeline.load(build_dir, precision=precision)
    rows = []
    for t in texts:
        feeds = p.encode([t])
        r = p.predict([t])[0]
        rows.append({"ids": [int(i) for i, m in zip(feeds["input_ids"][0], feeds["attention_mask"][0]) if m],
                     "values": r["embedding"] if "embedding" in r else list(r["probabilities"].values())})
    return rows


def test_modern_sample_on_aarch64_equals_x86(package, arm64_python, arm64_venv):
    shipped = package["shipped"]
    other = "int8" if shipped == "fp32" else "fp32"
    assert (package["pkg"] / "model" / f"model.{shipped}.onnx").is_file()
    wheels = sorted((package["pkg"] / "wheelhouse" / "py311").glob("edgepack_runtime-*.whl"))
    assert len(wheels) == 1, wheels
    runs = [[str(package["pkg"] / "model"), shipped], [str(package["build"]), other]]
    proc = arm64_python.run(["-c", PROBE, json.dumps(runs), json.dumps(package["texts"])],
                            python=arm64_venv / "bin" / "python", env={"PYTHONPATH": str(wheels[0]), "PATH": "/usr/bin:/bin"},
                            timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["machine"] == "aarch64"
    for directory, precision in ((package["pkg"] / "model", shipped), (package["build"], other)):
        run = got["runs"][precision]
        assert run["self_test"]["ok"], run["self_test"]
        want = _x86(directory, precision, package["texts"])
        worst = 0.0
        for text, g, w in zip(package["texts"], run["rows"], want, strict=True):
            assert g["ids"] == w["ids"], f"{package['name']} {text[:30]!r}: aarch64 token ids differ from x86"
            diff = float(np.max(np.abs(np.asarray(g["values"]) - np.asarray(w["values"]))))
            assert diff <= TOLERANCE[precision], (package["name"], precision, text[:30], diff)
            worst = max(worst, diff)
        assert len(run["rows"][-1]["ids"]) == 128  # "a " * 600 truncated to the model's positions
        print(f"\n{package['name']} {precision}: aarch64 vs x86 max |Δ| {worst:.2e} over {len(want)} texts")
