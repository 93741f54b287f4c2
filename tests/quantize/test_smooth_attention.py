"""SmoothQuant on a hand-made BERT-style encoder layer: the factor folded into V, the pads fed a real
token, the smoothing only where channels have outliers (quantize/smooth.py).

The layer is the chain the fold relies on -- Q/K/V projections, heads split by Reshape + Transpose,
softmax(QK^T + mask) @ V, heads merged back, the attention-output dense, a GELU FFN, masked mean
pooling -- with a few embedding channels ~30x the rest, as BERT-style LayerNorm outputs have. Every
transform must leave the fp32 outputs as they were, on padded batches too: a fold that scaled the
wrong axis of V, or lost the head order, changes them far beyond 1e-5.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgepack.quantize import smooth
from edgepack.runtime.session import create_session

VOCAB, C, HEADS, FF = 50, 32, 4, 64
PAD = 0


def _layer(path, context_read_twice=False):
    rng = np.random.default_rng(11)
    emb = rng.normal(0, 1, (VOCAB, C)).astype(np.float32)
    emb[:, [3, 17]] *= 30  # outlier channels
    init = {"emb": emb}
    for k in ("q", "k", "v", "o"):
        init[f"w{k}"] = rng.normal(0, 0.2, (C, C)).astype(np.float32)
        init[f"b{k}"] = rng.normal(0, 0.5, (C,)).astype(np.float32)
    init["w1"], init["b1"] = rng.normal(0, 0.2, (C, FF)).astype(np.float32), rng.normal(0, 0.5, FF).astype(np.float32)
    init["w2"], init["b2"] = rng.normal(0, 0.2, (FF, C)).astype(np.float32), rng.normal(0, 0.5, C).astype(np.float32)
    init["heads"] = np.array([0, 0, HEADS, C // HEADS], np.int64)
    init["merged"] = np.array([0, 0, C], np.int64)
    init["scale"] = np.array(1 / np.sqrt(C // HEADS), np.float32)
    init["big"] = np.array(-1e4, np.float32)
    init["one"] = np.array(1.0, np.float32)
    init["zero"] = np.array(0.0, np.float32)
    init["half"] = np.array(0.5, np.float32)
    init["sqrt2"] = np.array(np.sqrt(2.0), np.float32)
    init["axes12"] = np.array([1, 2], np.int64)
    init["axis1"] = np.array([1], np.int64)
    init["axis_last"] = np.array([-1], np.int64)
    mk = helper.make_node
    nodes = [mk("Gather", ["emb", "input_ids"], ["h"])]
    for k in ("q", "k", "v"):
        nodes += [mk("MatMul", ["h", f"w{k}"], [f"{k}0"], name=f"{k}/MatMul"), mk("Add", [f"{k}0", f"b{k}"], [f"{k}1"]),
                  mk("Reshape", [f"{k}1", "heads"], [f"{k}2"]),
                  mk("Transpose", [f"{k}2"], [f"{k}3"], perm=[0, 2, 3, 1] if k == "k" else [0, 2, 1, 3])]
    nodes += [mk("MatMul", ["q3", "k3"], ["s0"]), mk("Mul", ["s0", "scale"], ["s1"]),
              mk("Cast", ["attention_mask"], ["mf"], to=TensorProto.FLOAT), mk("Sub", ["one", "mf"], ["mi"]),
              mk("Mul", ["mi", "big"], ["mb0"]), mk("Unsqueeze", ["mb0", "axes12"], ["mb"]),
              mk("Add", ["s1", "mb"], ["s2"]), mk("Softmax", ["s2"], ["p"], axis=-1),
              mk("MatMul", ["p", "v3"], ["c0"]), mk("Transpose", ["c0"], ["c1"], perm=[0, 2, 1, 3]),
              mk("Reshape", ["c1", "merged"], ["ctx"]),
              mk("MatMul", ["ctx", "wo"], ["o0"], name="attn_out/MatMul"), mk("Add", ["o0", "bo"], ["o1"]),
              mk("Add", ["o1", "h"], ["r0"]),
              mk("Add", ["r0", "ctx"] if context_read_twice else ["r0", "zero"], ["r1"]),
              mk("MatMul", ["r1", "w1"], ["f0"], name="ffn_in/MatMul"), mk("Add", ["f0", "b1"], ["f1"]),
              mk("Div", ["f1", "sqrt2"], ["g0"]), mk("Erf", ["g0"], ["g1"]), mk("Add", ["g1", "one"], ["g2"]),
              mk("Mul", ["f1", "g2"], ["g3"]), mk("Mul", ["g3", "half"], ["g4"]),
              mk("MatMul", ["g4", "w2"], ["f2"], name="ffn_out/MatMul"), mk("Add", ["f2", "b2"], ["f3"]),
              mk("Add", ["f3", "r1"], ["y"]),
              mk("Unsqueeze", ["mf", "axis_last"], ["m3"]), mk("Mul", ["y", "m3"], ["ym"]),
              mk("ReduceSum", ["ym", "axis1"], ["ys"], keepdims=0), mk("ReduceSum", ["mf", "axis1"], ["n"], keepdims=1),
              mk("Div", ["ys", "n"], ["embeddings"])]
    graph = helper.make_graph(
        nodes, "layer",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "t"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "t"])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["b", C])],
        [numpy_helper.from_array(v, k) for k, v in init.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _feeds(n=40, seed=12):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        t = int(rng.integers(3, 12))
        out.append({"input_ids": rng.integers(1, VOCAB, (1, t)).astype(np.int64),
                    "attention_mask": np.ones((1, t), np.int64)})
    return out


def _padded(feeds):
    """The feeds as one batch, right-padded with the pad id (mask 0) as the runtimes pad."""
    width = max(f["input_ids"].shape[1] for f in feeds)
    return {k: np.concatenate([np.pad(f[k], [(0, 0), (0, width - f[k].shape[1])], constant_values=PAD if
                                      k == "input_ids" else 0) for f in feeds]) for k in feeds[0]}


def _muls(path) -> int:
    return sum(n.op_type == "Mul" for n in onnx.load(str(path)).graph.node)


@pytest.fixture()
def layer(tmp_path):
    _layer(tmp_path / "layer.onnx")
    feeds = _feeds()
    return tmp_path / "layer.onnx", feeds, smooth.activation_absmax(tmp_path / "layer.onnx", feeds)


def test_attention_output_factor_folds_into_v_exactly(layer, tmp_path):
    src, feeds, absmax = layer
    folded = smooth.smooth(src, tmp_path / "f.onnx", 0.8, absmax)
    unfolded = smooth.smooth(src, tmp_path / "u.onnx", 0.8, absmax, fold=False)
    assert unfolded == {"inputs": 4, "folded": 0, "muls": 4}  # Q/K/V input, context, FFN in, FFN out
    assert folded == {"inputs": 4, "folded": 1, "muls": 3}
    assert _muls(tmp_path / "f.onnx") == _muls(src) + 3
    m = onnx.load(str(tmp_path / "f.onnx"))
    assert next(n for n in m.graph.node if n.name == "attn_out/MatMul").input[0] == "ctx"  # no Mul in front
    # V's columns carry 1/s of the context's channel: its weight and bias changed, Q's and K's columns did not
    w = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    orig = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(src)).graph.initializer}
    assert not np.allclose(w["bv"], orig["bv"]) and np.array_equal(w["bq"], orig["bq"])
    a, b = create_session(src), create_session(tmp_path / "f.onnx")
    batch = _padded(feeds[:16])
    assert len(set(batch["attention_mask"].sum(1))) > 1  # really padded
    ref = a.run(None, batch)[0]
    np.testing.assert_allclose(b.run(None, batch)[0], ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    for f in feeds[:5]:
        np.testing.assert_allclose(b.run(None, f)[0], a.run(None, f)[0], rtol=1e-5, atol=1e-4)


def test_a_context_read_elsewhere_keeps_its_mul(tmp_path):
    """Folding scales the context itself: a second reader (here a residual Add) would see it scaled."""
    _layer(tmp_path / "twice.onnx", context_read_twice=True)
    feeds = _feeds()
    absmax = smooth.activation_absmax(tmp_path / "twice.onnx", feeds)
    assert smooth.smooth(tmp_path / "twice.onnx", tmp_path / "s.onnx", 0.8, absmax) == {"inputs": 4, "folded": 0,
                                                                                       "muls": 4}
    batch = _padded(feeds[:16])
    ref = create_session(tmp_path / "twice.onnx").run(None, batch)[0]
    np.testing.assert_allclose(create_session(tmp_path / "s.onnx").run(None, batch)[0], ref, rtol=1e-5, atol=1e-4)


def test_a_misread_chain_is_caught_and_left_unfolded(layer, tmp_path, monkeypatch):
    """If the walk ever named the wrong projection (here: Q's instead of V's), the fp32 proof in
    quantize() must refuse the fold and smooth with a Mul instead."""
    src, feeds, _ = layer
    real = smooth._attention_values

    def wrong(x, producer, consumers, inits, outputs):
        found = real(x, producer, consumers, inits, outputs)
        if found is None:
            return None
        q = next(n for n in producer.values() if n.name == "q/MatMul")
        return q, "bq"

    monkeypatch.setattr(smooth, "_attention_values", wrong)
    info = smooth.quantize(src, tmp_path / "q8.onnx", per_channel=True, calibration=feeds, alpha=0.8, variant="all")
    assert info["smoothquant"]["factors_folded"] == 0 and info["smoothquant"]["mul_nodes"] == 4


def test_pads_fed_the_first_token_are_exact_and_replace_the_masks(layer, tmp_path):
    src, feeds, absmax = layer
    smooth.smooth(src, tmp_path / "s.onnx", 0.8, absmax)
    assert smooth.first_token_pads(tmp_path / "s.onnx", tmp_path / "p.onnx", feeds)
    assert smooth.zero_pad_rows(tmp_path / "s.onnx", tmp_path / "z.onnx", feeds)
    # masks: one Mul per smoothing Mul (the folded context needs none); first token: no Mul at all
    assert _muls(tmp_path / "z.onnx") - _muls(tmp_path / "s.onnx") == 3
    assert _muls(tmp_path / "p.onnx") == _muls(tmp_path / "s.onnx")
    a, b = create_session(src), create_session(tmp_path / "p.onnx")
    batch = _padded(feeds[:16])
    np.testing.assert_allclose(b.run(None, batch)[0], a.run(None, batch)[0], rtol=1e-5, atol=1e-4)
    # what the pad positions now read: each row's first token
    m = onnx.load(str(tmp_path / "p.onnx"))
    probe = helper.make_tensor_value_info(smooth.IDS_INPUT + smooth.SUFFIX + "_pads_first", TensorProto.INT64, None)
    m.graph.output.append(probe)
    ids = create_session(m.SerializeToString()).run([probe.name], batch)[0]
    real = batch["attention_mask"].astype(bool)
    assert np.array_equal(ids[real], batch["input_ids"][real])
    assert np.array_equal(ids, np.where(real, batch["input_ids"], batch["input_ids"][:, :1]))


def test_outliers_variant_smooths_only_spread_inputs(layer, tmp_path):
    src, feeds, absmax = layer
    spreads = {k: smooth._spread(v) for k, v in absmax.items()}
    wide = sum(s >= smooth.VARIANTS["outliers"]["min_spread"] for s in spreads.values())
    assert spreads["h"] > 10 and 0 < wide < len(spreads)  # the outlier embedding, and some flat input
    info = smooth.quantize(src, tmp_path / "o8.onnx", per_channel=True, calibration=feeds, variant="outliers")
    full = smooth.quantize(src, tmp_path / "a8.onnx", per_channel=True, calibration=feeds, variant="all")
    sq, fq = info["smoothquant"], full["smoothquant"]
    assert sq["matmul_inputs_smoothed"] == wide < fq["matmul_inputs_smoothed"] == 4
    assert sq["pad_rows"] == "first token" and fq["pad_rows"] == "zeroed"
    assert _muls(tmp_path / "o8.onnx") < _muls(tmp_path / "a8.onnx")
