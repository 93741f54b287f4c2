"""What quantization did, per op type: nodes and weight bytes in int8 vs fp32, file bytes before/after.

Read from the graphs, not from the quantizer's intentions: a node counts as quantized when one of
its fp32 weight initializers was replaced by an 8-bit one (the quantizers name it
``<weight>_quantized``). design.md: quantize_dynamic once left a dynamo-exported LSTM in fp32
without a word, so "nothing quantized" is checked here and is an error upstream.
"""

from __future__ import annotations

from collections import defaultdict

from edgepack.quantize.ops import numel

FLOAT_TYPES = {1: 4, 10: 2, 16: 2, 11: 8}  # onnx TensorProto FLOAT, FLOAT16, BFLOAT16, DOUBLE -> bytes
INT8_TYPES = {2, 3}  # UINT8, INT8
INT4_TYPES = {21, 22}  # UINT4, INT4


def _weights(model) -> dict[str, object]:
    return {init.name: init for init in model.graph.initializer}


def _q8(after: dict, w: str):
    """The 8-bit replacement of weight ``w``: ``<w>_quantized`` (QOperator/QDQ) or ``<w>_Q8``
    (MatMulNBits bits = 8, weight-only), or None."""
    for name in (f"{w}_quantized", f"{w}_Q8"):
        if name in after and after[name].data_type in INT8_TYPES:
            return after[name]
    return None


def quantized_nodes(fp32_model, q_model) -> dict[str, list[str]]:
    """{node name: [weights now 8-bit]} for nodes of ``fp32_model`` whose weights ``q_model`` quantized."""
    before, after = _weights(fp32_model), _weights(q_model)
    out: dict[str, list[str]] = {}
    for node in fp32_model.graph.node:
        hit = [w for w in node.input if w in before and before[w].data_type in FLOAT_TYPES and _q8(after, w) is not None]
        if hit:
            out[node.name] = hit
    return out


def analyze(fp32_model, q_model, fp32_bytes: int, q_bytes: int) -> dict:
    """The report section: per op type, overall totals, and which nodes stayed fp32."""
    before, after = _weights(fp32_model), _weights(q_model)
    done = quantized_nodes(fp32_model, q_model)
    per_op: dict[str, dict] = defaultdict(lambda: {"nodes": 0, "nodes_int8": 0, "weights_fp32_before": 0,
                                                   "weights_int8_after": 0, "weights_fp32_after": 0})
    seen: set[str] = set()
    for node in fp32_model.graph.node:
        float_inputs = [w for w in node.input if w in before and before[w].data_type in FLOAT_TYPES and w not in seen]
        row = per_op[node.op_type]
        row["nodes"] += 1
        row["nodes_int8"] += node.name in done
        for w in float_inputs:
            seen.add(w)
            size = numel(before[w]) * FLOAT_TYPES[before[w].data_type]
            row["weights_fp32_before"] += size
            q = _q8(after, w)
            if q is not None:
                row["weights_int8_after"] += numel(q)
            else:
                row["weights_fp32_after"] += size
    per_op = {op: row for op, row in sorted(per_op.items()) if row["weights_fp32_before"] or row["nodes_int8"]}
    int8_weight_bytes = sum(numel(i) for i in q_model.graph.initializer if i.data_type in INT8_TYPES
                            and i.name.endswith(("_quantized", "_Q8")))
    return {
        "per_op_type": per_op,
        "nodes_quantized": sorted(done),
        "nodes_int8": len(done),
        "weight_bytes_int8": int8_weight_bytes,
        "weight_bytes_fp32_remaining": sum(r["weights_fp32_after"] for r in per_op.values()),
        "file_bytes_fp32": fp32_bytes,
        "file_bytes_quantized": q_bytes,
        "size_ratio": round(q_bytes / fp32_bytes, 4) if fp32_bytes else None,
    }


def table_lines(report: dict) -> list[str]:
    """Human-readable per-op table (the CLI prints it; comments in the manifest are the JSON)."""
    lines = [f"{'op type':<14} {'nodes int8/all':>14} {'weights fp32 before':>20} {'int8 after':>11} {'fp32 after':>11}"]
    for op, r in report["per_op_type"].items():
        lines.append(f"{op:<14} {r['nodes_int8']:>7}/{r['nodes']:<6} {r['weights_fp32_before']:>20,} "
                     f"{r['weights_int8_after']:>11,} {r['weights_fp32_after']:>11,}")
    lines.append(f"file: {report['file_bytes_fp32']:,} -> {report['file_bytes_quantized']:,} bytes "
                 f"({report['size_ratio']:.0%} of fp32)")
    return lines
