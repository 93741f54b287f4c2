"""SmoothQuant for dynamic INT8: move activation outliers into the weights, then quantize dynamically.

Why: dynamic INT8 quantizes a MatMul's activations with ONE scale per tensor. Transformer hidden
states have a few channels tens of times larger than the rest (the LayerNorm outputs of BERT-style
encoders), so that scale is set by the outliers and every other channel keeps only a few of its 256
levels -- on all-MiniLM-L6-v2 dynamic per-channel INT8 has a held-out min cosine of 0.985 (< 0.99).
Blockwise INT8 (weightonly.py) fixes it with a scale per block of 32, but its MatMulNBits kernel was
~2x slower than MatMulInteger at batch 32 here.

The transform (Xiao et al. 2023, "SmoothQuant"), exact in fp32: for every MatMul input ``x`` feeding
MatMuls with constant 2-D weights ``W``, a per-input-channel factor ``s`` gives
``x @ W == (x / s) @ (s[:, None] * W)``. ``x / s`` is one ``Mul`` node (shared by the MatMuls that read
``x``, e.g. Q/K/V); ``s * W`` is folded into the weights before they are quantized (per output channel).
``s_j = max|x_j| ** alpha / max_k |W_jk| ** (1 - alpha)``: alpha = 1 flattens the activations fully
(moving all the range into the weights), 0 leaves them. ``max|x_j|`` comes from one fp32 pass over the
calibration texts (the selection split unless a calibration file is given: never the held-out texts).

Measured on all-MiniLM-L6-v2 (644 held-out texts, 2-core VM, 2026-12): alpha 0.8 gives held-out min
cosine 0.996 / mean 0.998 (alpha 0.5: 0.977, 0.6: 0.989, 0.7: 0.995, 0.9: 0.994).

What each Mul buys (MiniLM has 4 smoothable inputs per layer: Q/K/V input and FFN-in input -- both
LayerNorm outputs --, the attention context, FFN-out input -- the GELU output, 4x wider). Held-out
min / mean cosine, one text per call, then min in padded batches of 32 (deterministic):

- the context's factor folded into V (``_attention_values``): exact, no Mul; 0.9962 / 0.9984 / 0.9959
  as with its Mul. Smoothing per input kind (pads first-token): none 0.983 / 0.993 / 0.982; Q/K/V +
  FFN-in 0.991 / 0.996 / 0.990 (+ context 0.990 / 0.996); + FFN-out 0.9960 / 0.9983 / 0.9961: FFN-out
  carries the mean cosine, the context barely matters. ``min_spread``: only inputs whose channels
  span >= 4x (17 of 24, 16 Muls): 0.9964 / 0.9984 / 0.9954; >= 5x (14): 0.9952 / 0.9981 / 0.9952;
  >= 6x (10): 0.993 / 0.997 / 0.992.
- pads: masking every smoothed input (``zero_pad_rows``) 0.9959 padded; masks at the LayerNorm
  outputs only 0.9959, at Q/K/V only 0.983, FFN-in only 0.9945, none 0.980 (Optimum-style dynamic
  INT8: 0.982). Pads fed a real token instead (``first_token_pads``, no Mul): the row's first
  token ([CLS]) 0.9954, [SEP] 0.9955, "the" 0.9955, the text repeated 0.9950.

So the ladder tries alpha 0.8 on the >= 4x inputs with first-token pads (16 Muls, was 48: 24
factors + 24 masks), then every input with masks (18 + 18). Cost against Optimum-style dynamic INT8
(1 thread, CPU time, paired in the same run, load 2-3; IQR about +-5% at batch 1): the 48 Muls
+6.5% at batch 1 / +6.6% at batch 32; the 16 Muls +2 to +5% / +1 to +3%; plain dynamic (no Mul)
-3% / 0%; scripts/measure_minilm.py, two runs at load 1.6: +4 to +8% / +4%. The 16 left cannot
fold: a LayerNorm output also feeds the residual Add (which needs it unscaled), a GELU output is
not homogeneous. Did not pay: Q/K/V merged into one MatMul + Split (batch 1 -1%, batch 32 +0.3%).
Outside smoothing, for every recipe (pre-processing): constant head-reshape targets ([0, 0, 12, 64]
for Shape/Gather/Unsqueeze/Concat, 37 nodes) -4.5% at batch 1; ORT 1.31's fused
SkipLayerNormalization took ~8x the time of Add + LayerNormalization here -- the residual Adds
written as Sum (not fused; same accuracy) made the 16-Mul graph 0.90x / 0.87x Optimum-style's time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgepack.quantize import dynamic
from edgepack.quantize.gate import fixed_batch, same_shape_batches
from edgepack.runtime.session import create_session

SCALE_RANGE = (1e-2, 1e2)  # no channel is scaled by more than 100x either way
SUFFIX = "_smooth"


def _targets(model) -> dict[str, list]:
    """MatMul input tensor -> the MatMul nodes that read it with a constant 2-D fp32 weight."""
    from onnx import TensorProto

    weights = {i.name: i for i in model.graph.initializer
               if len(i.dims) == 2 and i.data_type == TensorProto.FLOAT}
    out: dict[str, list] = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] in weights \
                and node.input[0] not in weights:
            out.setdefault(node.input[0], []).append(node)
    return out


def activation_absmax(src: Path, feeds: list[dict], cache: Path | None = None) -> dict[str, np.ndarray]:
    """Per-channel max |x| of every smoothable MatMul input over ``feeds``: one fp32 pass (cached)."""
    import onnx
    from onnx import helper

    if cache is not None and cache.is_file():
        with np.load(cache) as saved:
            return {k: saved[k] for k in saved.files}
    model = onnx.load(str(src))
    tensors = list(_targets(model))
    have = {o.name for o in model.graph.output}
    for name in tensors:
        if name not in have:
            model.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = create_session(model.SerializeToString())
    # Per-channel max over rows is the same whether texts run alone or stacked: batch equal lengths.
    batches = ([([0], f) for f in feeds] if fixed_batch(session) else same_shape_batches(feeds))
    absmax: dict[str, np.ndarray] = {}
    for _, f in batches:
        for name, value in zip(tensors, session.run(tensors, f)):
            v = np.abs(np.asarray(value, np.float32)).reshape(-1, value.shape[-1]).max(axis=0)
            absmax[name] = v if name not in absmax else np.maximum(absmax[name], v)
    if cache is not None:
        np.savez(cache, **absmax)
    return absmax


def _spread(a: np.ndarray) -> float:
    """How far the largest channel's max |x| sits above the median channel's: 1 = flat, no outliers."""
    return float(a.max() / max(float(np.median(a)), 1e-12))


def _attention_values(x: str, producer: dict, consumers: dict, inits: dict, outputs: set):
    """(V projection MatMul, its bias Add) when ``x`` is an attention context, else None.

    Why: the context is Reshape(Transpose(softmax @ Transpose(Reshape(x_prev @ Wv + bv)))): a weighted
    sum of V rows per head, with the heads' channels put back in their place. Scaling V's output
    channels by ``1 / s`` (Wv's columns and bv) therefore scales the context's channels by ``1 / s``:
    the smoothing Mul folds away. Only this exact chain is followed (every tensor read once, the
    Transposes keep the channel axis last, the channels reach the MatMul as its right operand); the
    caller still proves the folded graph equal to the original on real feeds."""
    seen = x
    while True:
        node = producer.get(seen)
        if node is None or seen in outputs or (seen != x and len(consumers.get(seen, ())) != 1):
            return None
        if node.op_type == "Reshape":
            seen = node.input[0]
        elif node.op_type == "Transpose":
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            if not perm or perm[-1] != len(perm) - 1:
                return None
            seen = node.input[0]
        elif node.op_type == "MatMul" and node.input[0] not in inits and node.input[1] not in inits:
            seen = node.input[1]  # softmax @ V: the output's channels are V's
        elif node.op_type == "Add":
            bias = [i for i in node.input if i in inits]
            rest = [i for i in node.input if i not in inits]
            proj = producer.get(rest[0]) if len(bias) == 1 and len(rest) == 1 else None
            if (proj is None or proj.op_type != "MatMul" or proj.input[1] not in inits or rest[0] in outputs
                    or len(consumers.get(rest[0], ())) != 1 or len(inits[bias[0]].dims) != 1):
                return None
            return proj, bias[0]
        else:
            return None


def smooth(src: Path, dst: Path, alpha: float, absmax: dict[str, np.ndarray], *, min_spread: float = 0.0,
           fold: bool = True) -> dict:
    """Write the smoothed fp32 graph to ``dst`` (same outputs up to rounding).

    ``min_spread``: smooth only inputs whose calibration max |x| per channel spans at least this
    factor (max / median channel); flatter inputs gain little and each costs an elementwise Mul.
    ``fold``: an attention context's factor goes into the V projection (no Mul; ``_attention_values``).
    Returns {"inputs": smoothed inputs, "folded": of those without a Mul, "muls": Mul nodes added}."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    inits = {i.name: i for i in model.graph.initializer}
    groups = _targets(model)
    uses: dict[str, int] = {}  # how many node inputs read each initializer
    consumers: dict[str, list] = {}
    producer = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        for i in node.input:
            uses[i] = uses.get(i, 0) + 1
            consumers.setdefault(i, []).append(node)
    outputs = {o.name for o in model.graph.output}
    # Every factor from the original weights first: folding into V must not change V's own factor.
    factors: dict[str, np.ndarray] = {}
    for name, nodes in groups.items():
        if name not in absmax or _spread(absmax[name]) < min_spread:
            continue
        if any(uses[n.input[1]] > 1 for n in nodes):  # a weight read elsewhere too: scaling it would change that
            continue
        ws = [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
        a = absmax[name].astype(np.float64)
        # A channel never active in calibration gets the floor, not a scale that would explode
        # the moment it is active on a text the calibration did not see.
        a = np.maximum(a, 1e-2 * max(float(np.median(a)), 1e-8))
        w = np.maximum(np.max([np.abs(x).max(axis=1) for x in ws], axis=0), 1e-8)
        factors[name] = np.clip(a ** alpha / w ** (1 - alpha), *SCALE_RANGE).astype(np.float32)

    def scale(init: str, by: np.ndarray) -> None:
        scaled = numpy_helper.to_array(inits[init]) * by
        inits[init].CopyFrom(numpy_helper.from_array(scaled.astype(np.float32), init))

    first_use: dict[str, object] = {}  # first output of the first MatMul reading a smoothed input -> its Mul
    folded = 0
    for name, s in factors.items():
        nodes = groups[name]
        for node in nodes:
            scale(node.input[1], s[:, None])
        # Folding changes the context itself: only when the smoothed MatMuls are all that read it.
        alone = all(any(c is n for n in nodes) for c in consumers[name])
        values = _attention_values(name, producer, consumers, inits, outputs) if fold and alone else None
        if values is not None and uses[values[0].input[1]] == 1 and uses[values[1]] == 1 \
                and len(inits[values[0].input[1]].dims) == 2 \
                and inits[values[1]].dims[0] == len(s) == inits[values[0].input[1]].dims[1]:
            scale(values[0].input[1], 1.0 / s[None, :])
            scale(values[1], 1.0 / s)
            folded += 1
            continue
        inv, out = name + SUFFIX + "_inv", name + SUFFIX
        model.graph.initializer.append(numpy_helper.from_array((1.0 / s).astype(np.float32), inv))
        mul = helper.make_node("Mul", [name, inv], [out], name=(nodes[0].name or name) + SUFFIX + "/Mul")
        for node in nodes:
            node.input[0] = out
        first_use[nodes[0].output[0]] = mul
    ordered = []
    for node in model.graph.node:  # each Mul right before the first MatMul that reads it: still topological
        if node.output and node.output[0] in first_use:
            ordered.append(first_use[node.output[0]])
        ordered.append(node)
    del model.graph.node[:]
    model.graph.node.extend(ordered)
    onnx.save(model, str(dst))
    return {"inputs": len(factors), "folded": folded, "muls": len(first_use)}


MASK_INPUT = "attention_mask"
IDS_INPUT = "input_ids"


def _padded_pair(feeds: list[dict]) -> dict | None:
    """Two single-text feeds of different lengths stacked into one padded batch (mask 0 on pads)."""
    by_len: dict[int, dict] = {}
    for f in feeds:
        if MASK_INPUT in f and f[MASK_INPUT].ndim == 2 and f[MASK_INPUT].shape[0] == 1:
            by_len.setdefault(f[MASK_INPUT].shape[1], f)
    if len(by_len) < 2:
        return None
    short, long_ = by_len[min(by_len)], by_len[max(by_len)]
    width = long_[MASK_INPUT].shape[1]

    def pad(k: str) -> np.ndarray:  # pads repeat the last token (mask: 0), so pad rows are not 0 already
        spec = [(0, 0), (0, width - short[k].shape[1])] + [(0, 0)] * (short[k].ndim - 2)
        return np.pad(short[k], spec) if k == MASK_INPUT else np.pad(short[k], spec, mode="edge")

    return {k: np.concatenate([pad(k), long_[k]]) for k in long_}


def _same_real_outputs(src: Path, candidate: Path | bytes, feeds: list[dict]) -> bool:
    """``candidate`` gives ``src``'s outputs on ``feeds`` (pad positions of per-token outputs aside)."""
    try:
        a, b = create_session(src), create_session(candidate)
        for feed in feeds:
            before, after = a.run(None, feed), b.run(None, feed)
            keep = feed[MASK_INPUT].astype(bool) if MASK_INPUT in feed else None
            for x, y in zip(before, after):
                if x.shape != y.shape:
                    return False
                if keep is not None and x.ndim >= 3 and x.shape[:2] == keep.shape:  # pad positions may differ
                    x, y = x[keep], y[keep]
                if not np.allclose(x, y, rtol=1e-3, atol=1e-4):
                    return False
    except Exception:  # e.g. a smoothed input that is not [batch, tokens, channels]
        return False
    return True


def first_token_pads(src: Path, dst: Path, feeds: list[dict]) -> bool:
    """Feed padding positions each row's first token instead of the pad token (``input_ids`` only).

    Why: dynamic INT8 takes one activation scale over the whole batch, padding tokens included, and
    the pad token's hidden states are large: on all-MiniLM-L6-v2 a padded batch of 32 dropped the
    smoothed INT8's held-out min cosine from 0.996 (one text per call) to 0.980. A real token in
    their place keeps pad rows in the range of real rows (0.9954 here) for one Slice and one Where
    on the [batch, tokens] ids, where masking every smoothed input's pad rows costs one elementwise
    Mul per input (``zero_pad_rows``). Exact: attention never lets a pad position reach a real
    token's output and pooling skips it -- proven on a padded two-text batch (else ``dst`` is not
    written)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    ins = {i.name: i for i in model.graph.input}
    batch = _padded_pair(feeds)
    if MASK_INPUT not in ins or IDS_INPUT not in ins or batch is None or IDS_INPUT not in batch:
        return False
    ids = IDS_INPUT + SUFFIX + "_pads_first"
    ones = ids + "_1"
    model.graph.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), ids + "_0"),
                                    numpy_helper.from_array(np.array([1], np.int64), ones)])
    head = [helper.make_node("Cast", [MASK_INPUT], [ids + "_real"], to=TensorProto.BOOL, name=ids + "/Cast"),
            helper.make_node("Slice", [IDS_INPUT, ids + "_0", ones, ones], [ids + "_first"], name=ids + "/Slice"),
            helper.make_node("Where", [ids + "_real", IDS_INPUT, ids + "_first"], [ids], name=ids + "/Where")]
    for node in model.graph.node:
        for k, name in enumerate(node.input):
            if name == IDS_INPUT:
                node.input[k] = ids
    return _write_if_exact(model, head + list(model.graph.node), src, dst, batch)


def zero_pad_rows(src: Path, dst: Path, feeds: list[dict]) -> bool:
    """Multiply each smoothing Mul's output by the attention mask, so padding tokens' rows are 0.

    Why: as ``first_token_pads``, for graphs whose pads it cannot replace, and in the full recipe
    (the most accurate on padded batches: held-out min cosine 0.9959 on MiniLM against 0.9954, for
    one Mul per smoothed input). A factor folded into V (``smooth``) needs no mask: a pad query's
    context is a convex combination of real tokens' V rows, inside their range. Exact in fp32: pad
    positions never reach a real token's output (attention masks them as keys; pooling skips them).
    Kept only when a padded two-text batch proves it (same real outputs with and without; else
    ``dst`` is not written)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    masks = [i for i in model.graph.input if i.name == MASK_INPUT]
    batch = _padded_pair(feeds)
    muls = {n.name for n in model.graph.node if n.name.endswith(SUFFIX + "/Mul")}
    if not masks or batch is None or not muls:
        return False
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    maskf = MASK_INPUT + SUFFIX + "_rows"
    head = [helper.make_node("Cast", [MASK_INPUT], [maskf + "_2d"], to=TensorProto.FLOAT, name=maskf + "/Cast")]
    if opset >= 13:
        model.graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), maskf + "_axes"))
        head.append(helper.make_node("Unsqueeze", [maskf + "_2d", maskf + "_axes"], [maskf], name=maskf + "/Unsqueeze"))
    else:
        head.append(helper.make_node("Unsqueeze", [maskf + "_2d"], [maskf], axes=[-1], name=maskf + "/Unsqueeze"))
    ordered = head
    for node in model.graph.node:
        ordered.append(node)
        if node.name in muls:
            out = node.output[0]
            node.output[0] = out + "_all_rows"
            ordered.append(helper.make_node("Mul", [out + "_all_rows", maskf], [out], name=node.name + "/MaskPads"))
    return _write_if_exact(model, ordered, src, dst, batch)


def _write_if_exact(model, nodes: list, src: Path, dst: Path, batch: dict) -> bool:
    """Give ``model`` the node list ``nodes``; write it to ``dst`` only if a padded batch proves its
    real outputs equal ``src``'s (the pad rewrites' shared last step)."""
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    data = model.SerializeToString()
    if not _same_real_outputs(src, data, [batch]):
        return False
    dst.write_bytes(data)
    return True


# The ladder's smoothing rungs, cheapest first: (alpha, variant). "outliers": only inputs whose
# channels span >= SPREAD x (max / median of max |x|), pads fed the first token (no mask Muls);
# "all": every input, pad rows zeroed by the mask (the most accurate on padded batches).
VARIANTS = {"outliers": {"min_spread": 4.0, "pads": "first token"}, "all": {"min_spread": 0.0, "pads": "zeroed"}}
RUNGS = ((0.8, "outliers"), (0.8, "all"))


def quantize(src: Path, dst: Path, *, per_channel: bool, reduce_range: bool = False, exclude: list[str] = (),
             calibration: list[dict] | None = None, alpha: float = RUNGS[0][0], variant: str = RUNGS[0][1]) -> dict:
    """Smooth ``src`` with factors from ``calibration`` feeds (padding handled as ``variant`` says,
    where the graph has an attention mask), then dynamic INT8 (dynamic.py)."""
    feeds = list(calibration or [])
    min_spread, pads = VARIANTS[variant]["min_spread"], VARIANTS[variant]["pads"]
    absmax = activation_absmax(src, feeds, src.with_name(src.stem + ".smooth-absmax.npz"))
    smoothed = dst.with_name(dst.stem + ".smoothed.onnx")
    padded = dst.with_name(dst.stem + ".padded.onnx")
    try:
        count = smooth(src, smoothed, alpha, absmax, min_spread=min_spread)
        pair = _padded_pair(feeds)
        if count["folded"] and not _same_real_outputs(src, smoothed, ([pair] if pair else []) + feeds[:1]):
            count = smooth(src, smoothed, alpha, absmax, min_spread=min_spread, fold=False)  # a chain we misread
        ways = {"first token": first_token_pads, "zeroed": zero_pad_rows}
        # the variant's way first, the other where it does not apply (no input_ids; no Mul to mask)
        done = next((way for way in sorted(ways, key=lambda w: w != pads) if ways[way](smoothed, padded, feeds)),
                    "none")
        info = dynamic.quantize(padded if done != "none" else smoothed, dst, per_channel=per_channel,
                                reduce_range=reduce_range, exclude=exclude)
    finally:
        smoothed.unlink(missing_ok=True)
        padded.unlink(missing_ok=True)
    return {**info, "smoothquant": {"alpha": alpha, "variant": variant, "min_spread": min_spread,
                                    "matmul_inputs_smoothed": count["inputs"], "factors_folded": count["folded"],
                                    "mul_nodes": count["muls"], "pad_rows": done,
                                    "calibration_texts": len(feeds)}}
