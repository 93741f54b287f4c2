"""SmoothQuant before dynamic INT8 (quantize/smooth.py) and its rung of the recovery ladder.

A hand-made encoder-like graph with the failure SmoothQuant exists for: one activation channel
~100x larger than the rest (as the LayerNorm outputs of BERT-style encoders have), so dynamic INT8's
one activation scale per tensor leaves the other channels a handful of levels. Then the real sample
embedder: the transform is exact in fp32 there too.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgepack.quantize import dynamic, report, smooth
from edgepack.quantize.evalset import EvalSet, split
from edgepack.quantize.gate import Thresholds, evaluate, run_all
from edgepack.quantize.ladder import Ladder, recover
from edgepack.runtime.session import create_session

DIM, TOKENS = 48, 6
LIMITS = Thresholds(min_agreement=0.99, max_accuracy_drop=0.01, max_prob_delta=None, min_cosine=0.99)


def _encoder(path):
    """x [1, T, DIM] -> mm1 -> Relu -> mm2 -> y. Channel 0 of x is an outlier (x ~ +-150) whose weight
    row is small, so the output is carried by the *other* channels -- which per-tensor activation
    scales round to a few levels."""
    rng = np.random.default_rng(3)
    w1 = rng.normal(0, 0.3, (DIM, DIM)).astype(np.float32)
    w1[0, :] *= 0.01
    w2 = rng.normal(0, 0.3, (DIM, DIM)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"), helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="mm2")]
    graph = helper.make_graph(nodes, "enc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", TOKENS, DIM])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", TOKENS, DIM])],
                              [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return model


def _evalset(n=80) -> EvalSet:
    rng = np.random.default_rng(4)
    feeds = []
    for _ in range(n):
        x = rng.normal(0, 1, (1, TOKENS, DIM)).astype(np.float32)
        x[..., 0] = rng.choice([-150.0, 150.0], size=(1, TOKENS))
        feeds.append({"x": x})
    return EvalSet(source="synthetic", texts=[f"text {i}" for i in range(n)], feeds=feeds)


def test_smoothing_is_exact_in_fp32_and_flattens_the_outlier(tmp_path):
    _encoder(tmp_path / "enc.onnx")
    feeds = _evalset(20).feeds
    absmax = smooth.activation_absmax(tmp_path / "enc.onnx", feeds)
    assert set(absmax) == {"x", "r"} and absmax["x"][0] > 30 * np.median(absmax["x"][1:])
    done = smooth.smooth(tmp_path / "enc.onnx", tmp_path / "s.onnx", 0.8, absmax)
    assert done == {"inputs": 2, "folded": 0, "muls": 2}  # no attention: nothing to fold
    m = onnx.load(str(tmp_path / "s.onnx"))
    onnx.checker.check_model(m)
    assert [n.op_type for n in m.graph.node] == ["Mul", "MatMul", "Relu", "Mul", "MatMul"]
    a = create_session(tmp_path / "enc.onnx")
    b = create_session(tmp_path / "s.onnx")
    for f in feeds:
        np.testing.assert_allclose(b.run(None, f)[0], a.run(None, f)[0], rtol=1e-4, atol=1e-4)
    # What mm1 now sees: channel 0 divided by a large factor, so one scale fits every channel.
    inv = numpy_helper.to_array(next(i for i in m.graph.initializer if i.name == "x" + smooth.SUFFIX + "_inv"))
    seen = absmax["x"] * inv
    assert np.all(inv > 0) and seen.max() / np.median(seen) < (absmax["x"].max() / np.median(absmax["x"])) / 5


def test_smoothed_dynamic_int8_passes_where_plain_dynamic_fails(tmp_path):
    _encoder(tmp_path / "enc.onnx")
    evalset = _evalset()
    ref = run_all(create_session(tmp_path / "enc.onnx"), evalset)[0]

    def cosine(path):
        return evaluate("feature-extraction", ref, run_all(create_session(path), evalset)[0], None, LIMITS)

    dynamic.quantize(tmp_path / "enc.onnx", tmp_path / "d.onnx", per_channel=True)
    info = smooth.quantize(tmp_path / "enc.onnx", tmp_path / "s8.onnx", per_channel=True,
                           calibration=evalset.feeds[:30], alpha=0.8, variant="all")
    plain, smoothed = cosine(tmp_path / "d.onnx"), cosine(tmp_path / "s8.onnx")
    assert not plain.ok and smoothed.ok, (plain.metrics, smoothed.metrics)
    assert smoothed.metrics["mean_cosine"] > plain.metrics["mean_cosine"]
    assert info["mode"] == "dynamic" and info["smoothquant"]["matmul_inputs_smoothed"] == 2
    assert info["smoothquant"]["pad_rows"] == "none"  # no attention_mask input: no padding to handle
    ops = {n.op_type for n in onnx.load(str(tmp_path / "s8.onnx")).graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops  # the dynamic INT8 kernels, not MatMulNBits
    # the size of plain dynamic INT8 plus one scale vector per smoothed input
    extra = (tmp_path / "s8.onnx").stat().st_size - (tmp_path / "d.onnx").stat().st_size
    assert 0 < extra <= 2 * DIM * 4 + 1024
    assert not list(tmp_path.glob("*.smoothed.onnx"))


def test_ladder_accepts_the_smoothed_rung_before_blockwise(tmp_path):
    model = _encoder(tmp_path / "enc.onnx")
    ladder = Ladder("feature-extraction", tmp_path / "enc.onnx", tmp_path / "enc.onnx", split(_evalset()), LIMITS,
                    tmp_path)
    quantized = lambda path: report.analyze(model, onnx.load(str(path)), 1, 1)["nodes_quantized"]  # noqa: E731
    accepted, _ = recover(ladder, "dynamic", None, model, quantized, {"MatMul": 2})
    steps = [t.recipe.step for t in ladder.trials]
    assert steps[:3] == ["1 weights", "1 weights", "2 reduce_range"] and not any(t.accepted for t in ladder.trials[:3])
    assert accepted is not None and accepted.recipe.step == "3 smoothed" and accepted.heldout.ok
    assert "4 blockwise int8" not in steps  # stopped at the first rung accepted on the held-out split
    assert accepted.recipe.label.startswith("smoothed (alpha 0.8, outliers) dynamic per-channel")
    # calibrated on the selection split only: the absmax cache holds what the selection texts gave
    with np.load(tmp_path / "enc.smooth-absmax.npz") as saved:
        sel = np.max([np.abs(f["x"]).reshape(-1, DIM).max(0) for f in ladder.split.selection.feeds], axis=0)
        np.testing.assert_allclose(saved["x"], sel)


@pytest.mark.slow
def test_smoothing_is_exact_on_the_sample_embedder(zoo_built, tmp_path):
    from edgepack.project import load_project
    from edgepack.quantize.evalset import evaluation_set
    from edgepack.quantize.prepare import preprocess

    project = load_project(zoo_built("minilm-embedder"))
    fp32 = project.build_dir / "model.fp32.onnx"
    names = [i.name for i in create_session(fp32).get_inputs()]
    parts = split(evaluation_set(project, names))
    preprocess(fp32, tmp_path / "pre.onnx")
    info = smooth.quantize(tmp_path / "pre.onnx", tmp_path / "s8.onnx", per_channel=True,
                           calibration=parts.selection.feeds, alpha=0.8)
    n_matmuls = sum(1 for n in onnx.load(str(tmp_path / "pre.onnx")).graph.node if n.op_type == "MatMul")
    assert 0 < info["smoothquant"]["matmul_inputs_smoothed"] < n_matmuls
    absmax = smooth.activation_absmax(tmp_path / "pre.onnx", [], tmp_path / "pre.smooth-absmax.npz")  # the cache
    done = smooth.smooth(tmp_path / "pre.onnx", tmp_path / "s.onnx", 0.8, absmax)
    # every attention-output input's factor folded into its layer's V projection: one Mul fewer each
    layers = sum(1 for n in onnx.load(str(tmp_path / "pre.onnx")).graph.node if n.op_type == "Softmax")
    assert done["folded"] == layers > 0 and done["muls"] == done["inputs"] - layers
    held = parts.heldout
    ref = run_all(create_session(fp32), held)[0]
    same = evaluate("feature-extraction", ref, run_all(create_session(tmp_path / "s.onnx"), held)[0], None, LIMITS)
    assert same.metrics["min_cosine"] > 0.99999, same.metrics  # exact up to float rounding
    q = evaluate("feature-extraction", ref, run_all(create_session(tmp_path / "s8.onnx"), held)[0], None, LIMITS)
    manifest = json.loads((project.build_dir / "manifest.json").read_text())
    shipped = manifest["quantization"]["gate"]["result"]
    # on a sample whose plain INT8 already passes, smoothing must not make INT8 markedly worse
    assert q.metrics["mean_cosine"] >= shipped["mean_cosine"] - 0.01, (q.metrics, shipped)

    # Pads: fed the first token (default) or zeroed (the full recipe), each proven on a padded pair
    # inside, and exact on real padded batches of 16 here -- folded factors included.
    assert info["smoothquant"]["pad_rows"] == "first token"
    assert smooth.first_token_pads(tmp_path / "s.onnx", tmp_path / "p.onnx", parts.selection.feeds)
    assert smooth.zero_pad_rows(tmp_path / "s.onnx", tmp_path / "m.onnx", parts.selection.feeds)
    m = onnx.load(str(tmp_path / "m.onnx"))
    assert sum(n.name.endswith("/MaskPads") for n in m.graph.node) == done["muls"]
    from edgepack.quantize.evalset import project_encoder

    enc = project_encoder(project, names)
    assert len({f["input_ids"].shape[1] for f in held.feeds[:16]}) > 1  # the batches really are padded
    for graph in ("s.onnx", "p.onnx", "m.onnx"):
        session = create_session(tmp_path / graph)
        padded = np.concatenate([session.run(None, enc(held.texts[i:i + 16]))[0] for i in range(0, 64, 16)])
        np.testing.assert_allclose(padded, ref[:64], rtol=1e-3, atol=1e-4, err_msg=graph)


def test_pad_rows_stay_when_the_graph_reads_padding(tmp_path):
    """A graph whose output *does* depend on pad rows (a mean over every token, mask ignored): zeroing
    them would change real outputs, so the padded-pair proof fails and the graph is left as it was."""
    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.3, (DIM, DIM)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("ReduceMean", ["h"], ["y"], axes=[1], keepdims=0, name="mean")]
    graph = helper.make_graph(nodes, "pool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", DIM]),
                                              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "t"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", DIM])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "pool.onnx"))
    feeds = [{"x": rng.normal(0, 1, (1, t, DIM)).astype(np.float32), "attention_mask": np.ones((1, t), np.int64)}
             for t in (3, 5, 5)]
    absmax = smooth.activation_absmax(tmp_path / "pool.onnx", feeds)
    assert smooth.smooth(tmp_path / "pool.onnx", tmp_path / "s.onnx", 0.8, absmax)["muls"] == 1
    assert smooth.zero_pad_rows(tmp_path / "s.onnx", tmp_path / "m.onnx", feeds) is False
    assert smooth.first_token_pads(tmp_path / "s.onnx", tmp_path / "m.onnx", feeds) is False  # no input_ids to feed
    assert not (tmp_path / "m.onnx").exists()
    # the same graph with per-token outputs: pad positions are not compared, so zeroing is proven exact
    onnx.save(helper.make_model(helper.make_graph(
        nodes[:1], "tok", list(graph.input), [helper.make_tensor_value_info("h", TensorProto.FLOAT, ["b", "t", DIM])],
        [numpy_helper.from_array(w, "w")]), opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
        str(tmp_path / "tok.onnx"))
    smooth.smooth(tmp_path / "tok.onnx", tmp_path / "ts.onnx", 0.8, smooth.activation_absmax(tmp_path / "tok.onnx", feeds))
    assert smooth.zero_pad_rows(tmp_path / "ts.onnx", tmp_path / "tm.onnx", feeds) is True
