"""Per-node sensitivity to INT8 in one pass: which quantized nodes damage the activations most.

The fp32 (pre-processed) graph and the fully quantized graph are each run ONCE over the selection
texts with every quantized node's inputs and outputs added as graph outputs (the quantizers keep
the original tensor names at a node's boundary: dynamic MatMul ends in a Mul that writes the old
name, QDQ puts its Q/DQ pairs on new names). Per tensor: relative squared error
``sum ||int8 - fp32||^2 / sum ||fp32||^2`` over the texts. A node's own damage is the error it
adds: error of its output minus the worst error already on its activation inputs (clipped at 0),
so a node downstream of a bad one is not blamed for it.

This replaces trial and error (quantize only node i, re-run the evaluation, for every i: 900 texts x
N nodes took 16 minutes on MiniLM, issue 16) with two runs over the selection split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgepack.progress import QUIET, Progress
from edgepack.runtime.session import create_session


@dataclass
class Ranking:
    rows: list[dict]  # [{node, op, own, output_error, input_error}] most damaging first
    unmeasured: list[str]  # quantized nodes whose output name vanished from the int8 graph

    @property
    def nodes(self) -> list[str]:
        return [r["node"] for r in self.rows] + self.unmeasured

    def as_dict(self, limit: int = 50) -> dict:
        return {"method": "one pass: fp32 vs int8 activations per node on the selection split",
                "ranking": self.rows[:limit], "unmeasured": self.unmeasured}


def _float_tensors(model) -> dict[str, int]:
    """name -> elem_type of every typed tensor (value_info after ONNX shape inference, inputs, outputs)."""
    import onnx

    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # the graph's own value_info is the next best
        pass
    out = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        if vi.type.HasField("tensor_type"):
            out[vi.name] = vi.type.tensor_type.elem_type
    return out


def _with_outputs(model, names: list[str], types: dict[str, int], dst: Path) -> Path:
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for name in names:
        if name not in have:
            m.graph.output.append(helper.make_tensor_value_info(name, types[name], None))
    onnx.save(m, str(dst))
    return dst


def rank(fp32_model, q_model, quantized: list[str], feeds: list[dict], scratch: Path,
         progress: Progress = QUIET) -> Ranking:
    """Rank ``quantized`` (node names of ``fp32_model``) by the damage INT8 does at each of them."""
    from onnx import TensorProto

    inits = {i.name for i in fp32_model.graph.initializer}
    types = _float_tensors(fp32_model)
    q_produced = {o for n in q_model.graph.node for o in n.output} | {i.name for i in q_model.graph.input}
    floats = {n for n, t in types.items() if t == TensorProto.FLOAT}
    by_name = {n.name: n for n in fp32_model.graph.node}
    wanted, plan, unmeasured = [], {}, []
    for name in quantized:
        node = by_name.get(name)
        outs = [o for o in (node.output if node else []) if o in floats and o in q_produced]
        if not outs:
            unmeasured.append(name)
            continue
        ins = [i for i in node.input if i and i not in inits and i in floats and i in q_produced]
        plan[name] = (node.op_type, outs, ins)
        wanted += outs + ins
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        return Ranking([], unmeasured)
    f_path = _with_outputs(fp32_model, wanted, types, scratch / "sens-fp32.onnx")
    q_path = _with_outputs(q_model, wanted, types, scratch / "sens-int8.onnx")
    f_sess, q_sess = create_session(f_path), create_session(q_path)
    err = dict.fromkeys(wanted, 0.0)
    ref = dict.fromkeys(wanted, 0.0)
    for feeds in progress.bar(feeds, "sensitivity (fp32 vs int8 activations)"):
        a = f_sess.run(wanted, feeds)
        b = q_sess.run(wanted, feeds)
        for name, x, y in zip(wanted, a, b):
            x = np.asarray(x, np.float64)
            y = np.asarray(y, np.float64)
            if x.shape != y.shape:
                continue
            err[name] += float(np.sum((x - y) ** 2))
            ref[name] += float(np.sum(x ** 2))
    rel = {n: err[n] / max(ref[n], 1e-30) for n in wanted}
    rows = []
    for name, (op, outs, ins) in plan.items():
        out_e = max(rel[o] for o in outs)
        in_e = max((rel[i] for i in ins), default=0.0)
        rows.append({"node": name, "op": op, "own": round(max(0.0, out_e - in_e), 10),
                     "output_error": round(out_e, 10), "input_error": round(in_e, 10)})
    rows.sort(key=lambda r: (-r["own"], -r["output_error"], r["node"]))
    for p in (f_path, q_path):
        p.unlink(missing_ok=True)
    return Ranking(rows, unmeasured)
