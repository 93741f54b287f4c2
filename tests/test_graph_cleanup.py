"""edgepack.graph_cleanup: exact rewrites of exported graphs (fewer nodes, same numbers)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from edgepack.graph_cleanup import drop_zero_initial_states, remove_dead_nodes
from edgepack.runtime.session import create_session


class _Recurrent(torch.nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        torch.manual_seed(0)
        self.rnn = getattr(torch.nn, kind)(8, 6, batch_first=True)

    def forward(self, x):
        out = self.rnn(x)[0]
        return out[:, -1]


def _export(kind: str, path) -> onnx.ModelProto:
    x = torch.randn(2, 5, 8)
    torch.onnx.export(_Recurrent(kind), (x,), str(path), input_names=["x"], output_names=["y"], dynamo=False,
                      opset_version=17, dynamic_axes={"x": {0: "b", 1: "s"}, "y": {0: "b"}})
    return onnx.load(str(path))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_zero_initial_states_are_dropped_and_answers_are_unchanged(kind, tmp_path):
    model = _export(kind, tmp_path / "raw.onnx")
    before = len(model.graph.node)
    assert any(n.op_type == "ConstantOfShape" for n in model.graph.node)
    dropped = drop_zero_initial_states(model)
    assert dropped == (2 if kind == "LSTM" else 1)
    ops = [n.op_type for n in model.graph.node]
    assert "ConstantOfShape" not in ops and len(ops) < before
    rnn = next(n for n in model.graph.node if n.op_type == kind)
    assert len(rnn.input) <= 5 and "" not in rnn.input[-1:]
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(tmp_path / "clean.onnx"))
    x = np.random.default_rng(1).standard_normal((3, 7, 8)).astype(np.float32)
    want = create_session(tmp_path / "raw.onnx").run(None, {"x": x})[0]
    got = create_session(tmp_path / "clean.onnx").run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)


def _lstm_with_state(value: float | None):
    """An LSTM whose initial_h / initial_c come from ConstantOfShape(value) (None: no value attribute)."""
    w = numpy_helper.from_array(np.ones((1, 8, 2), np.float32), "W")
    r = numpy_helper.from_array(np.ones((1, 8, 2), np.float32), "R")
    shape = numpy_helper.from_array(np.array([1, 1, 2], np.int64), "shape")
    attrs = {} if value is None else {"value": numpy_helper.from_array(np.array([value], np.float32))}
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["h0"], **attrs),
             helper.make_node("LSTM", ["x", "W", "R", "", "", "h0", "h0"], ["y"], hidden_size=2)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, r, shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_a_nonzero_initial_state_is_kept():
    model = _lstm_with_state(0.5)
    assert drop_zero_initial_states(model) == 0
    assert [n.op_type for n in model.graph.node] == ["ConstantOfShape", "LSTM"]


def test_a_default_fill_is_zero_and_dropped_with_its_now_unused_initializer():
    model = _lstm_with_state(None)
    assert drop_zero_initial_states(model) == 2
    assert [n.op_type for n in model.graph.node] == ["LSTM"]
    assert sorted(i.name for i in model.graph.initializer) == ["R", "W"]


def test_dead_nodes_read_by_a_subgraph_are_kept():
    """A value read only inside an If branch is alive (outer-scope reference)."""
    then = helper.make_graph([helper.make_node("Identity", ["c"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Neg", ["x"], ["c"]), helper.make_node("Abs", ["x"], ["unused"]),
             helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                                           helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    assert remove_dead_nodes(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Neg", "If"]


def _residual_layernorm_model():
    """x + r -> LayerNormalization, and the same Add's twin feeding a Relu (not a LayerNorm)."""
    scale = numpy_helper.from_array(np.linspace(0.5, 1.5, 8).astype(np.float32), "scale")
    bias = numpy_helper.from_array(np.linspace(-1, 1, 8).astype(np.float32), "bias")
    nodes = [helper.make_node("Add", ["x", "r"], ["s"]),
             helper.make_node("LayerNormalization", ["s", "scale", "bias"], ["y"], axis=-1, epsilon=1e-12),
             helper.make_node("Add", ["x", "r"], ["t"]), helper.make_node("Relu", ["t"], ["z"])]
    f = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3, 8]) for n in ("x", "r")]
    out = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3, 8]) for n in ("y", "z")]
    graph = helper.make_graph(nodes, "g", f, out, [scale, bias])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_adds_into_layernorm_become_sum_with_identical_answers(tmp_path):
    from edgepack.graph_cleanup import adds_into_layernorm_as_sum

    model = _residual_layernorm_model()
    onnx.save(model, str(tmp_path / "add.onnx"))
    assert adds_into_layernorm_as_sum(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Sum", "LayerNormalization", "Add", "Relu"]
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(tmp_path / "sum.onnx"))
    rng = np.random.default_rng(0)
    feeds = {n: rng.standard_normal((2, 3, 8)).astype(np.float32) for n in ("x", "r")}
    want = create_session(tmp_path / "add.onnx").run(None, feeds)
    got = create_session(tmp_path / "sum.onnx").run(None, feeds)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_the_shipped_int8_encoder_is_not_fused_into_skip_layernorm(built_sample, tmp_path):
    """What the rewrite is for: ONNX Runtime's optimized graph of the quantized sample embedder has no
    SkipLayerNormalization; the same file with the Adds put back gets it (so the check can fail)."""
    import onnxruntime as ort

    build = built_sample("minilm-embedder", stage="quantize") / "build"

    def fused_nodes(path) -> int:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
        ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return sum(n.op_type == "SkipLayerNormalization" for n in onnx.load(opts.optimized_model_filepath).graph.node)

    model = onnx.load(str(build / "model.int8.onnx"))
    sums = [n for n in model.graph.node if n.op_type == "Sum"]
    assert sums and fused_nodes(build / "model.int8.onnx") == 0
    for n in sums:
        n.op_type = "Add"
    onnx.save(model, str(tmp_path / "adds.onnx"))
    assert fused_nodes(tmp_path / "adds.onnx") > 0
