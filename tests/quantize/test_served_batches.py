"""The gate judges a candidate as the runtimes serve it: one text per call *and* in padded batches.

Dynamic INT8 takes one activation scale over a whole batch, so a text's answer can change with its
padding and its neighbours (measured on all-MiniLM-L6-v2: Optimum-style INT8, min cosine 0.985
alone, 0.982 in padded batches of 32). Here a hand-made graph does exactly that -- its output is
scaled by (the row's max / the batch's max) -- and the gate must refuse it, naming the batches."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from edgepack.quantize.evalset import EvalSet, split
from edgepack.quantize.gate import Thresholds, padded_batches
from edgepack.quantize.ladder import Ladder

LIMITS = Thresholds(min_agreement=0.99, max_accuracy_drop=0.01, max_prob_delta=None, min_cosine=0.99)
PAD = 3


def _model(path, batch_dependent: bool) -> None:
    """input_ids [N, L] -> [s*f, s] with s = the row's sum; f = 1, or row max / batch max."""
    nodes = [helper.make_node("Cast", ["input_ids"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("ReduceSum", ["x", "axis1"], ["s"], keepdims=1)]
    if batch_dependent:
        nodes += [helper.make_node("ReduceMax", ["x"], ["row_max"], axes=[1], keepdims=1),
                  helper.make_node("ReduceMax", ["x"], ["batch_max"], keepdims=1),
                  helper.make_node("Div", ["row_max", "batch_max"], ["f"]),
                  helper.make_node("Mul", ["s", "f"], ["scaled"])]
    else:
        nodes += [helper.make_node("Identity", ["s"], ["scaled"])]
    nodes += [helper.make_node("Concat", ["scaled", "s"], ["embeddings"], axis=1)]
    graph = helper.make_graph(
        nodes, "served", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
                          helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor(name="axis1", data_type=TensorProto.INT64, dims=[1], vals=[1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _evalset(n=80) -> EvalSet:
    rng = np.random.default_rng(0)
    feeds = []
    for i in range(n):
        length = int(rng.integers(2, 9))
        ids = rng.integers(1, 5 if i % 2 else 60, (1, length)).astype(np.int64)  # small and large maxima mixed
        feeds.append({"input_ids": ids, "attention_mask": np.ones_like(ids)})
    return EvalSet(source="synthetic", texts=[f"text {i}" for i in range(n)], feeds=feeds, pad_id=PAD)


def test_padded_batches_pad_like_the_runtimes():
    es = _evalset(40)
    chunks = list(padded_batches(es, batch=32))
    assert [c for c, _ in chunks] == [list(range(32)), list(range(32, 40))]
    chunk, feeds = chunks[0]
    width = max(es.feeds[i]["input_ids"].shape[1] for i in chunk)
    assert feeds["input_ids"].shape == feeds["attention_mask"].shape == (32, width)
    for row, i in enumerate(chunk):
        n = es.feeds[i]["input_ids"].shape[1]
        assert (feeds["input_ids"][row, :n] == es.feeds[i]["input_ids"][0]).all()
        assert (feeds["input_ids"][row, n:] == PAD).all() and (feeds["attention_mask"][row, n:] == 0).all()


def test_a_candidate_that_passes_alone_but_not_in_batches_is_refused(tmp_path):
    ref, cand = tmp_path / "ref.onnx", tmp_path / "cand.onnx"
    _model(ref, batch_dependent=False)
    _model(cand, batch_dependent=True)
    ladder = Ladder("feature-extraction", ref, ref, split(_evalset()), LIMITS, tmp_path)
    same, _ = ladder.gate(ref, "heldout", "the reference itself")
    assert same.ok and same.metrics["batched"]["min_cosine"] > 0.999999
    result, _ = ladder.gate(cand, "heldout", "batch-dependent")
    assert result.metrics["min_cosine"] > 0.999999  # one text per call: identical to the reference
    assert not result.ok and result.metrics["batched"]["min_cosine"] < 0.99
    assert [f for f in result.failures if f.startswith("served in padded batches of 32: min cosine")], result.failures
    assert result.as_dict()["batched"]["texts"] == result.as_dict()["texts"]
