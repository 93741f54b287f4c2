"""The split, the one-pass sensitivity ranking and the recovery ladder, on tiny hand-made graphs
(no project, no export: each test runs in well under a second of quantize + ORT)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgepack.quantize import dynamic, report
from edgepack.quantize.evalset import EvalSet, split
from edgepack.quantize.gate import Thresholds
from edgepack.quantize.ladder import Ladder, recover, table_lines
from edgepack.quantize.sensitivity import rank

DIM = 16
LIMITS = Thresholds(min_agreement=0.99, max_accuracy_drop=0.01, max_prob_delta=None, min_cosine=0.99)


def _mlp(path, damaged: bool):
    """x -> mm1 -> Relu -> mm2 -> Relu -> mm3 -> y. ``damaged``: mm2's weight has one huge row that the
    inputs never excite (x1 column 0 is always 0): int8 scales stretch to it, and every useful weight
    of mm2 rounds to 0 -- per-tensor, per-channel (the outlier is in every column) and 7-bit alike;
    SmoothQuant shrinks the dead row 100x (its cap), not enough (measured: min cosine ~0.9)."""
    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.3, (DIM, DIM)).astype(np.float32)
    w1[:, 0] = 0  # h1[0] = relu(0) = 0 for every input
    w2 = rng.normal(0, 0.3, (DIM, DIM)).astype(np.float32)
    if damaged:
        w2[0, :] = 5000.0
    w3 = rng.normal(0, 0.3, (DIM, DIM)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h1"], name="mm1"), helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
             helper.make_node("MatMul", ["r1", "w2"], ["h2"], name="mm2"), helper.make_node("Relu", ["h2"], ["r2"], name="relu2"),
             helper.make_node("MatMul", ["r2", "w3"], ["y"], name="mm3")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, DIM])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, DIM])],
                              [numpy_helper.from_array(w, n) for w, n in ((w1, "w1"), (w2, "w2"), (w3, "w3"))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return model


def _evalset(n=60) -> EvalSet:
    rng = np.random.default_rng(1)
    feeds = [{"x": np.abs(rng.normal(0, 1, (1, DIM))).astype(np.float32)} for _ in range(n)]
    return EvalSet(source="synthetic", texts=[f"text {i}" for i in range(n)], feeds=feeds)


def _ladder(tmp_path, damaged: bool) -> tuple[Ladder, onnx.ModelProto]:
    src = tmp_path / "mlp.onnx"
    model = _mlp(src, damaged)
    return Ladder("feature-extraction", src, src, split(_evalset()), LIMITS, tmp_path), model


def _quantized(model):
    return lambda path: report.analyze(model, onnx.load(str(path)), 1, 1)["nodes_quantized"]


def test_split_is_disjoint_seeded_and_recorded():
    evalset = _evalset(100)
    evalset.texts[7] = evalset.texts[8]  # a duplicate text must land on one side only
    a, b = split(evalset), split(evalset)
    assert a.record == b.record and a.selection.texts == b.selection.texts  # seeded: the same every run
    assert not set(a.selection.texts) & set(a.heldout.texts)
    assert len(a.selection) + len(a.heldout) == len(evalset)
    assert a.record["seed"] == 16 and a.record["disjoint"] is True
    assert (a.record["selection_texts"], a.record["heldout_texts"]) == (len(a.selection), len(a.heldout))
    assert len(a.heldout) > len(a.selection) > 0
    other = split(evalset, seed=17)
    assert other.selection.texts != a.selection.texts and other.record["heldout_sha256_16"] != a.record["heldout_sha256_16"]


def test_split_refuses_a_set_too_small_to_hold_out():
    from edgepack.errors import QuantizationError

    with pytest.raises(QuantizationError, match="at least 2"):
        split(EvalSet(source="one text", texts=["a", "a"], feeds=[{}, {}]))


def test_one_pass_ranking_puts_the_damaged_node_first(tmp_path):
    model = _mlp(tmp_path / "mlp.onnx", damaged=True)
    dynamic.quantize(tmp_path / "mlp.onnx", tmp_path / "q.onnx", per_channel=False)
    q = onnx.load(str(tmp_path / "q.onnx"))
    ranking = rank(model, q, ["mm1", "mm2", "mm3"], _evalset(20).feeds, tmp_path)
    assert [r["node"] for r in ranking.rows][0] == "mm2", ranking.rows
    top, rest = ranking.rows[0], ranking.rows[1:]
    assert top["own"] > 0.5 and all(r["own"] < 0.1 * top["own"] for r in rest)
    # mm3 sits downstream of the damage: its output is bad, but not by its own doing.
    mm3 = next(r for r in ranking.rows if r["node"] == "mm3")
    assert mm3["output_error"] > 0.5 and mm3["own"] < mm3["output_error"] / 5
    assert not ranking.unmeasured and not list(tmp_path.glob("sens-*.onnx"))  # scratch copies cleaned up


def test_ladder_stops_at_the_first_step_that_passes(tmp_path):
    ladder, model = _ladder(tmp_path, damaged=False)
    accepted, choice = recover(ladder, "dynamic", None, model, _quantized(model), {"MatMul": 3})
    assert accepted is not None and accepted.recipe.step == "1 weights" and not accepted.recipe.exclude
    assert [t.recipe.step for t in ladder.trials] == ["1 weights", "1 weights"]  # per-tensor vs per-channel only
    assert choice["chosen"] in ("per-tensor", "per-channel") and ladder.ranking is None
    assert accepted.heldout.ok and accepted.heldout.metrics["texts"] == len(ladder.split.heldout)


def test_ladder_excludes_only_the_damaged_node_and_stops_there(tmp_path):
    ladder, model = _ladder(tmp_path, damaged=True)
    accepted, _ = recover(ladder, "dynamic", None, model, _quantized(model), {"MatMul": 3})
    steps = [t.recipe.step for t in ladder.trials]
    assert steps[:6] == ["1 weights", "1 weights", "2 reduce_range", "3 smoothed", "3 smoothed", "4 blockwise int8"]
    assert not any(t.selection.ok for t in ladder.trials[:6])  # the cheaper steps really failed
    assert accepted is not None and accepted.recipe.exclude == ("mm2",)
    assert set(steps[6:]) == {"5 exclude sensitive"}  # no static / weight-only rung after a pass
    assert ladder.ranking.nodes[0] == "mm2"
    rows = [t.row() for t in ladder.trials]
    assert [r["accepted"] for r in rows].count(True) == 1
    assert rows[-1]["accepted"] and rows[-1]["heldout"]["ok"] and rows[-1]["file_bytes"] > 0
    assert all(r["heldout"] is None for r in rows[6:-1])  # the search judges on selection; held-out once
    lines = table_lines(rows)
    assert len(lines) == len(rows) + 1 and "accepted" in lines[-1] and "1 node(s) fp32" in lines[-1]
    assert lines[1].endswith(" fails") and "passes selection" in lines[-2]  # k=2: passed, never judged


def test_ladder_reaches_weight_only_when_exclusion_is_not_allowed(tmp_path):
    """A threshold only near-fp32 math meets: every rung runs, in order, up to the last one (int8
    weights, fp32 activations), and each is a row of the table."""
    ladder, model = _ladder(tmp_path, damaged=True)
    ladder.limits = Thresholds(0.99, 0.01, None, 0.9999999)  # only near-fp32 accuracy passes
    accepted, _ = recover(ladder, "dynamic", None, model, _quantized(model), {"MatMul": 3})
    steps = [t.recipe.step for t in ladder.trials]
    assert steps.index("3 smoothed") < steps.index("4 blockwise int8") < steps.index("6 static QDQ")
    assert steps[-1] == "7 int8 weights only"
    if accepted is not None:
        assert accepted.recipe.mode == "weight-only"
