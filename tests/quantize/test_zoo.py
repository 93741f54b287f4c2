"""One test per architecture: export (parity vs PyTorch), quantize (gate), int8 vs fp32, golden vectors."""

from __future__ import annotations

import json
import os

import onnx
import pytest

from edgepack.runtime.pipeline import Pipeline

from tests.quantize.zoo_support import ZOO

# What each architecture is expected to quantize (op type -> at least this many int8 nodes), and
# what must stay fp32: ORT has no dynamically quantized GRU kernel, the samples' embedding tables
# are under quantize.ops.SMALL_TABLE_BYTES and their output layers under SMALL_MATRIX_WEIGHTS (int8
# would cost more time than it saves).
EXPECTED = {
    "sentiment": ({"LSTM": 1}, "dynamic", ["Gather", "Gemm"]),
    "gru": ({"Gemm": 1}, "dynamic", ["GRU", "Gather"]),
    "bilstm": ({"LSTM": 2, "Gemm": 1}, "dynamic", []),
    "textcnn": ({"Conv": 2, "Gemm": 1}, "static", []),
    "transformer": ({"MatMul": 4}, "dynamic", []),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_zoo_sample_exports_quantizes_and_passes_its_gates(zoo_built, name):
    project = zoo_built(name)
    build = project / "build"
    manifest = json.loads((build / "manifest.json").read_text())

    # fp32 vs PyTorch: the export's parity report over examples + >= 64 generated batches.
    parity = manifest["parity"]["fp32"]
    assert parity["ok"] and parity["cases"] >= 69
    assert parity["outputs"]["probabilities"]["max_abs_diff"] <= 1e-5

    # What was quantized, per op type, read from the graphs.
    q = manifest["quantization"]
    wanted, mode, stays_fp32 = EXPECTED[name]
    assert q["mode"] == mode
    per_op = q["report"]["per_op_type"]
    for op, n in wanted.items():
        assert per_op[op]["nodes_int8"] >= n, (op, per_op[op])
        assert per_op[op]["weights_int8_after"] * 4 >= per_op[op]["weights_fp32_before"] - per_op[op]["weights_fp32_after"]
    for op in stays_fp32:
        assert per_op[op]["nodes_int8"] == 0 and per_op[op]["weights_fp32_after"] == per_op[op]["weights_fp32_before"]
    assert q["report"]["file_bytes_quantized"] < q["report"]["file_bytes_fp32"]
    ops = {n.op_type for n in onnx.load(str(build / "model.int8.onnx")).graph.node}
    assert "ConvInteger" not in ops  # never emitted: no target we ship to can run it everywhere
    if mode == "static":
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops

    # int8 vs fp32 on the held-out split of the 900-text file: the gate's numbers, against its thresholds;
    # every choice was made on the other, disjoint part (the selection split).
    gate, split = q["gate"]["result"], q["gate"]["split"]
    assert gate["ok"] and gate["texts"] == split["heldout_texts"] and q["gate"]["weak"] is False
    assert split["heldout_texts"] + split["selection_texts"] == 900 and split["disjoint"]
    assert q["gate"]["selection"]["texts"] == split["selection_texts"]
    assert gate["agreement"] >= q["gate"]["thresholds"]["min_agreement"]
    assert gate["accuracy_fp32"] - gate["accuracy_quantized"] <= q["gate"]["thresholds"]["max_accuracy_drop"]
    assert manifest["parity"]["int8"]["ok"]

    # Golden vectors: both precisions reproduce from the artifact alone (tokenizer + session).
    for precision in ("fp32", "int8"):
        report = Pipeline.load(build, precision=precision).self_test()
        assert report.ok and report.checked == len(manifest["golden"]), report.failures
    assert manifest["precisions"]["int8"] == {**manifest["precisions"]["int8"], "file": "model.int8.onnx",
                                              "tolerance": 1e-3}

    # Per-target decisions: typed records with the rule and the numbers that decided.
    from edgepack.quantize.decision import Decision

    targets = manifest["targets"]
    for target in ("cpu", "rpi"):
        d = Decision.from_dict(target, targets[target])
        assert d.precision in ("fp32", "int8") and d.decided_by in ("speed", "tie-rule", "ops") and d.reason
        if d.decided_by != "ops":
            assert targets[target]["medians_ms"]["fp32"] > 0 and targets[target]["medians_ms"]["int8"] > 0
            assert targets[target]["rounds"] >= 12
    wasm = targets["wasm"]
    d = Decision.from_dict("wasm", wasm)
    assert d.precision in ("fp32", "int8") and d.reason
    probe = wasm.get("probe")
    if probe is None:  # the op table refused int8 before anything ran
        assert d.decided_by == "ops"
    elif probe["status"] == "skipped":  # no node / onnxruntime-web here: only allowed outside CI
        assert not os.environ.get("CI"), probe["reason"]
    else:
        # The pinned onnxruntime-web loads and runs both models; int8 in wasm stays within the
        # int8 golden tolerance of native int8 (design.md: they differ in the 3rd-4th decimal).
        assert probe["status"] == "ran", probe
        assert probe["models"]["fp32"]["loads"] and probe["models"]["int8"]["loads"], probe
        assert probe["models"]["int8"]["max_abs_diff_vs_native"] <= 1e-3
        assert d.decided_by in ("speed", "tie-rule") and wasm["medians_ms"]["int8"] > 0


def test_batch_answers_equal_single_answers_for_every_zoo_model(zoo_built):
    """Masks, not packing: a text gets the same fp32 answer alone or in a padded batch."""
    import numpy as np

    texts = ["great", "The service was terrible and the food was cold, never again", "", "ok i guess"]
    for name in ZOO:
        pipe = Pipeline.load(zoo_built(name) / "build", precision="fp32")
        batch = pipe(texts)["probabilities"]
        for i, text in enumerate(texts):
            np.testing.assert_allclose(pipe([text])["probabilities"][0], batch[i], atol=1e-6, err_msg=f"{name}: {text!r}")
