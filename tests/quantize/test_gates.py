"""The gates at work: per-node fp32 fallback, an impossible threshold, the stage skipping, extras."""

from __future__ import annotations

import json



from edgepack.quantize import quantize_project, run_stage
from edgepack.project import load_project
from tests.quantize.zoo_support import file_bytes, set_quantization
from tests.repo_support import fresh_copy, run_cli

# These tests are about the accuracy gate and the stage: the wasm speed gate is not timed here
# (tests/quantize/test_decision.py and tests/web/test_browser_bench.py time it).
NO_WASM_TIMING = {"EDGEPACK_WASM_TIMING": "none"}


def test_failing_gate_climbs_the_recovery_ladder(zoo_built, tmp_path):
    # The BiLSTM sample: two int8 LSTMs and a gate leave room for a later rung to pass (the GRU and
    # LSTM samples now quantize one node each -- small tables and heads stay fp32 -- so every rung
    # there fails or quantizes nothing).
    full = json.loads((zoo_built("bilstm") / "build" / "manifest.json").read_text())["quantization"]
    project = fresh_copy(zoo_built("bilstm"), tmp_path)
    # Half the better of plain per-tensor / per-channel INT8's held-out |Δprob|: step 1 fails, a later step can pass.
    limit = min(r["heldout"]["max_prob_delta"] for r in full["recovery"]["table"] if r["step"] == "1 weights") / 2
    set_quantization(project, max_prob_delta=limit)
    result = quantize_project(project, wasm_timing="none")
    q = result.section
    table = q["recovery"]["table"]
    assert [r["step"] for r in table][:3] == ["1 weights", "1 weights", "2 reduce_range"]
    assert not any(r["accepted"] for r in table[:2])
    accepted = [r for r in table if r["accepted"]]
    assert len(accepted) == 1 and accepted[0]["recipe"] == q["recovery"]["accepted"]
    assert all(r["step"] <= accepted[0]["step"] for r in table)  # stops at the first rung that passes
    assert q["gate"]["result"]["ok"] and q["gate"]["result"]["max_prob_delta"] <= limit
    assert q["gate"]["split"]["heldout_texts"] == q["gate"]["result"]["texts"]  # accepted on held-out texts
    kept = q["report"]["nodes_kept_fp32"]
    if kept:  # the exclusion rung: only the top of the one-pass ranking stays fp32
        ranking = [r["node"] for r in q["recovery"]["sensitivity"]["ranking"]]
        assert kept == ranking[:len(kept)] and q["report"]["fallback_cost_bytes"] > 0
        assert result.manifest["precisions"]["int8"]["quantization"]["nodes_kept_fp32"] == kept


def test_impossible_threshold_exits_6_and_writes_nothing(zoo_built, tmp_path):
    project = fresh_copy(zoo_built("gru"), tmp_path)
    set_quantization(project, max_prob_delta=1e-9)
    from edgepack.export import export_project

    export_project(project)  # the toml changed; fp32 did not, so export keeps the earlier int8
    before = file_bytes(project / "build")
    assert "model.int8.onnx" in before
    proc = run_cli("quantize", str(project), env=NO_WASM_TIMING)
    assert proc.returncode == 6, proc.stderr
    assert "fails the accuracy gate on every recovery step" in proc.stderr and "max_prob_delta" in proc.stderr
    assert "Nothing was written" in proc.stderr
    assert file_bytes(project / "build") == before  # the earlier int8 and its manifest, byte for byte


def test_build_stage_skips_when_inputs_are_unchanged(zoo_built, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPACK_WASM_TIMING", "none")
    project = load_project(fresh_copy(zoo_built("sentiment"), tmp_path))
    decisions = json.loads((project.build_dir / "manifest.json").read_text())["targets"]
    assert run_stage(project) == "skipped (inputs unchanged)"
    assert json.loads((project.build_dir / "manifest.json").read_text())["targets"] == decisions  # not re-decided
    assert run_stage(project, force=True) == "ran"
    wasm = json.loads((project.build_dir / "manifest.json").read_text())["targets"]["wasm"]
    assert (wasm["decided_by"], wasm["note"]) == ("tie-rule", "not measured (wasm timing off)")


def test_cli_json_reports_per_op_types_and_targets(zoo_built, tmp_path):
    project = fresh_copy(zoo_built("sentiment"), tmp_path)
    proc = run_cli("quantize", str(project), "--per-tensor", "--json", env=NO_WASM_TIMING)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] and data["status"] == "ran"
    q = data["quantization"]
    assert q["per_channel"] is False and q["per_channel_choice"]["chosen"] == "per-tensor"
    assert q["report"]["per_op_type"]["LSTM"]["nodes_int8"] == 1
    assert set(data["targets"]) == {"cpu", "rpi", "wasm"}
    human = run_cli("quantize", str(project), env=NO_WASM_TIMING)
    assert human.returncode == 0
    assert "LSTM" in human.stdout and "cpu:" in human.stdout and "wasm:" in human.stdout


def test_extra_precisions_pass_the_same_gate(zoo_built, tmp_path):
    project = fresh_copy(zoo_built("sentiment"), tmp_path)
    result = quantize_project(project, precisions=["fp16", "int4"], wasm_timing="none")
    extras = result.section["extra_precisions"]
    assert set(extras) == {"fp16", "int4"}
    fp16 = extras["fp16"]
    assert fp16["written"] and fp16["gate"]["ok"]
    assert result.manifest["precisions"]["fp16"]["file"] == "model.fp16.onnx"
    from edgepack.runtime.pipeline import Pipeline

    assert Pipeline.load(project / "build", precision="fp16").self_test().ok
    # int4 (MatMulNBits) converts MatMul weights only; the LSTM sample has none (its head is a
    # Gemm), and converting nothing is refused like an INT8 model with nothing quantized.
    int4 = extras["int4"]
    assert int4["nodes_int4"] == 0 and not int4["written"] and "MatMul" in int4["reason"]
    assert "int4" not in result.manifest["precisions"]


def test_int4_converts_the_transformer_matmuls(zoo_built, tmp_path):
    project = fresh_copy(zoo_built("transformer"), tmp_path)
    result = quantize_project(project, precisions=["int4"], wasm_timing="none")
    int4 = result.section["extra_precisions"]["int4"]
    assert int4["nodes_int4"] >= 4 and int4["written"] == int4["gate"]["ok"]
    if int4["written"]:
        from edgepack.runtime.pipeline import Pipeline

        assert Pipeline.load(project / "build", precision="int4").self_test().ok


def test_calibration_file_is_used_for_static_quantization(zoo_built, tmp_path):
    project = fresh_copy(zoo_built("textcnn"), tmp_path)
    cal = tmp_path / "calibration.txt"
    cal.write_text("\n".join(["the food was great", "i hated the service", "the museum opens at 9"] * 5) + "\n",
                   encoding="utf-8")
    result = quantize_project(project, calibration=cal, wasm_timing="none")
    info = result.manifest["precisions"]["int8"]["quantization"]
    assert info["mode"] == "static" and info["format"] == "QDQ"
    assert str(cal) in info["calibration"] and "15 texts" in info["calibration"]
    assert result.section["gate"]["result"]["ok"]


def test_dynamo_exported_lstm_is_really_quantized(zoo_built, tmp_path):
    """design.md: quantize_dynamic once left a dynamo-exported LSTM in fp32. Measured since: on the
    dynamo graph it fails outright without pre-processing (stale value_info); edgepack's
    pre-processing makes it a DynamicQuantizeLSTM, and the report proves it per op type."""
    from edgepack.export import export_project

    project = fresh_copy(zoo_built("sentiment"), tmp_path)
    toml = project / "edgepack.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[examples]", '[export]\nexporter = "dynamo"\n\n[examples]'),
                    encoding="utf-8")
    export_project(project)
    result = quantize_project(project, per_channel=False, wasm_timing="none")
    lstm = result.section["report"]["per_op_type"]["LSTM"]
    assert lstm["nodes_int8"] == 1 and lstm["weights_int8_after"] > 0
    import onnx

    ops = {n.op_type for n in onnx.load(str(project / "build" / "model.int8.onnx")).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops


def test_exclude_nodes_keeps_named_nodes_fp32(zoo_built, tmp_path):
    full = json.loads((zoo_built("bilstm") / "build" / "manifest.json").read_text())["quantization"]["report"]
    lstm = next(n for n in full["nodes_quantized"] if n.endswith("LSTM"))
    project = fresh_copy(zoo_built("bilstm"), tmp_path)
    set_quantization(project, exclude_nodes=[lstm])
    result = quantize_project(project, wasm_timing="none")
    report = result.section["report"]
    assert lstm not in report["nodes_quantized"] and lstm in report["nodes_kept_fp32"]
    assert report["per_op_type"]["LSTM"]["nodes_int8"] == full["per_op_type"]["LSTM"]["nodes_int8"] - 1
    assert report["nodes_int8"] == full["nodes_int8"] - 1
