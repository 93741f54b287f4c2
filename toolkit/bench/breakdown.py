"""The bench's time breakdown: where one call's µs go -- tokenization, embedding, recurrent/encoder,
linear, softmax (the seed's table). "Breakdown", not "stage": stages are the build pipeline's.

Measured inside each CPU worker at one batch size / sequence length:

* ONNX Runtime: a second session with ORT's profiler on; per-node ``*_kernel_time`` events of the
  timed runs (warm-up runs are cut away by their ``model_run`` windows), summed per node.
* PyTorch: ``torch.profiler`` with a ``record_function`` label around every top-level part module
  (found by type: Embedding, LSTM/GRU/Transformer encoder, Linear) and around the softmax.
* Tokenization: the same Python tokenizer + padding in both, timed with ``perf_counter``.

Workers return raw numbers (``breakdown_raw``); :func:`breakdown_table` classifies ONNX nodes in the runner,
using the PyTorch worker's module map (ONNX node names carry the module path: ``/lstm/LSTM``) with
an op-type fallback for projects that have no PyTorch module. Profilers add their own overhead: the
table says where the time goes, the latency table says how long it takes.
"""

from __future__ import annotations

import glob
import json
import os
import time
from contextlib import contextmanager

PARTS = ("tokenization", "embedding", "recurrent/encoder", "linear", "softmax", "other ops", "runtime overhead")

RECURRENT_OPS = {"LSTM", "GRU", "RNN", "DynamicQuantizeLSTM", "Attention", "MultiHeadAttention",
                 "SkipLayerNormalization", "Conv", "QLinearConv", "ConvInteger"}
EMBEDDING_OPS = {"EmbedLayerNormalization"}
LINEAR_OPS = {"Gemm", "MatMul", "FusedGemm", "FusedMatMul", "MatMulInteger", "MatMulIntegerToFloat",
              "DynamicQuantizeMatMul", "QGemm", "QLinearMatMul"}
RECURRENT_WORDS = ("encoder", "layer.", "layers.", "attention", "lstm", "gru", "rnn", "conv")


def _median(values) -> float:
    import statistics

    return statistics.median(values) if values else 0.0


def _median_us(fn, iterations: int) -> float:
    """Median of single calls: a preempted call on a busy machine does not move it."""
    fn()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return _median(times) * 1e6


# ---------------------------------------------------------------- in the worker: ONNX Runtime
def profile_ort(pipeline, build_dir, backend, threads, texts, feeds, iterations, workdir) -> dict:
    """Per-node durations of each timed run (``runs_us``: one per run), so the runner takes medians."""
    import bisect

    from edgepack.runtime.session import create_session

    tokenization = _median_us(lambda: pipeline.encode(texts), iterations)
    prefix = os.path.join(workdir, f"ortprof-{backend['name']}-{os.getpid()}")
    session = create_session(pipeline.manifest.model_path(backend["precision"]), provider=backend["device"],
                             threads=threads, profile_prefix=prefix)
    for _ in range(3):  # warm-up: cut away below by their model_run windows
        session.run(None, feeds)
    walls = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        session.run(None, feeds)
        walls.append(time.perf_counter() - t0)
    path = session.end_profiling()
    with open(path, encoding="utf-8") as f:
        events = json.load(f)
    for stale in glob.glob(prefix + "*"):
        os.unlink(stale)
    runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                  key=lambda e: e["ts"])[-iterations:]
    starts = [e["ts"] for e in runs]
    nodes: dict[str, dict] = {}
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        i = bisect.bisect_right(starts, e["ts"]) - 1
        if i < 0 or e["ts"] > runs[i]["ts"] + runs[i]["dur"]:
            continue
        name = e["name"][: -len("_kernel_time")]
        entry = nodes.setdefault(name, {"name": name, "op": e.get("args", {}).get("op_name", "?"),
                                        "runs_us": [0.0] * len(runs)})
        entry["runs_us"][i] += e["dur"]
    for entry in nodes.values():
        entry["us"] = _median(entry["runs_us"])
    return {"kind": "onnxruntime", "iterations": len(runs), "tokenization_us": tokenization,
            "model_runs_us": [e["dur"] for e in runs], "model_run_us": _median([e["dur"] for e in runs]),
            "wall_us": _median(walls) * 1e6, "nodes": sorted(nodes.values(), key=lambda n: -n["us"])}


# ---------------------------------------------------------------- in the worker: PyTorch
def torch_part(module) -> str | None:
    """The part a module is, by type; None = look inside it."""
    import torch.nn as nn

    name = type(module).__name__
    if isinstance(module, nn.Embedding) or name.endswith("Embedding") or name.endswith("Embeddings"):
        return "embedding"
    if isinstance(module, (nn.RNNBase, nn.TransformerEncoder, nn.TransformerEncoderLayer, nn.MultiheadAttention,
                           nn.Conv1d)) or any(k in name for k in ("LSTM", "GRU", "Attention")) \
            or name.endswith(("Encoder", "EncoderLayer")):
        return "recurrent/encoder"
    if isinstance(module, nn.Linear):
        return "linear"
    return None


def part_modules(root) -> dict[str, str]:
    """{dotted module path: part} for the outermost modules that are a part."""
    found: dict[str, str] = {}

    def walk(module, prefix):
        for name, child in module.named_children():
            path = f"{prefix}{name}"
            part = torch_part(child)
            if part:
                found[path] = part
            else:
                walk(child, path + ".")

    walk(root, "")
    return found


def profile_torch(engine, texts, tensors, iterations) -> dict:
    import bisect

    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    tokenization = _median_us(lambda: engine.encode(texts), iterations)
    modules = part_modules(engine.module)
    by_path = dict(engine.module.named_modules())
    open_labels: dict[int, list] = {}
    handles = []

    def pre(mod, _args, label):
        rf = record_function(label)
        rf.__enter__()
        open_labels.setdefault(id(mod), []).append(rf)

    def post(mod, _args, _out):
        open_labels[id(mod)].pop().__exit__(None, None, None)

    for path, part in modules.items():
        label = f"edgepack::{part}::{path}"
        mod = by_path[path]
        handles.append(mod.register_forward_pre_hook(lambda m, a, label=label: pre(m, a, label)))
        handles.append(mod.register_forward_hook(post))

    @contextmanager
    def label(name):
        with record_function(f"edgepack::{name}::"):
            yield

    def call():
        with torch.inference_mode(), record_function("edgepack::model::"):
            return engine.forward(*(t.to(engine.device) for t in tensors), label=label).cpu()

    try:
        for _ in range(3):
            call()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            walls = []
            for _ in range(iterations):
                t0 = time.perf_counter()
                call()
                walls.append(time.perf_counter() - t0)
    finally:
        for h in handles:
            h.remove()
    wall_us = _median(walls) * 1e6
    # one "edgepack::model::" event per iteration; every labelled event belongs to the one it starts in
    events = [e for e in prof.events() if e.name.startswith("edgepack::")]
    models = sorted((e for e in events if e.name == "edgepack::model::"), key=lambda e: e.time_range.start)
    starts = [e.time_range.start for e in models]
    per_run: list[dict[str, float]] = [{} for _ in models]
    for e in events:
        if e.name == "edgepack::model::":
            continue
        i = bisect.bisect_right(starts, e.time_range.start) - 1
        if i < 0:
            continue
        part = e.name.split("::")[1]
        per_run[i][part] = per_run[i].get(part, 0.0) + e.cpu_time_total
    model_runs = [e.cpu_time_total for e in models]
    part_us = {part: _median([run.get(part, 0.0) for run in per_run])
               for part in {s for run in per_run for s in run}}
    part_us["other ops"] = _median([max(0.0, m - sum(run.values())) for m, run in zip(model_runs, per_run)])
    return {"kind": "torch", "iterations": len(models), "tokenization_us": tokenization,
            "model_us": _median(model_runs), "wall_us": wall_us, "parts_us": part_us, "modules": modules}


# ---------------------------------------------------------------- in the runner: the table
def ort_node_part(name: str, op: str, module_prefixes: list[tuple[str, str]]) -> str:
    # "in", not "startswith": export wraps the module (``/inner/lstm/LSTM``), HF models nest it
    for prefix, part in module_prefixes:
        if prefix in name:
            return part
    lower = name.lower()
    if op in EMBEDDING_OPS or "embed" in lower:
        return "embedding"
    if op in RECURRENT_OPS or any(w in lower for w in RECURRENT_WORDS):
        return "recurrent/encoder"
    if op in LINEAR_OPS:
        return "linear"
    if op == "Softmax":
        return "softmax"
    return "other ops"


def _prefixes(modules: dict[str, str]) -> list[tuple[str, str]]:
    # torch.onnx (TorchScript) names nodes "/<module path with '/'>/<Op>"; longest prefix wins
    pairs = [("/" + path.replace(".", "/") + "/", part) for path, part in modules.items()]
    return sorted(pairs, key=lambda p: -len(p[0]))


def breakdown_table(rows: list[dict]) -> dict:
    """{"columns": [backend...], "parts": {part: {backend: µs}}, "totals": ..., "nodes": ...}."""
    modules: dict[str, str] = {}
    for row in rows:
        raw = row.get("breakdown_raw") or {}
        if raw.get("kind") == "torch":
            modules.update(raw.get("modules", {}))
    prefixes = _prefixes(modules)
    columns, parts, totals, nodes, errors = [], {s: {} for s in PARTS}, {}, {}, {}
    batch = seq_len = None
    for row in rows:
        raw = row.get("breakdown_raw")
        if not raw:
            continue
        name = row["backend"]
        if "error" in raw:
            errors[name] = raw["error"]
            continue
        columns.append(name)
        batch, seq_len = raw.get("batch", batch), raw.get("seq_len", seq_len)
        parts["tokenization"][name] = raw["tokenization_us"]
        if raw["kind"] == "torch":
            for part, us in raw["parts_us"].items():
                parts[part][name] = us
            model = raw.get("model_us") or 0.0
        else:
            runs = raw["model_runs_us"]
            per_run: list[dict[str, float]] = [{} for _ in runs]
            for node in raw["nodes"]:
                part = ort_node_part(node["name"], node["op"], prefixes)
                node["part"] = part
                for i, us in enumerate(node.pop("runs_us")):
                    per_run[i][part] = per_run[i].get(part, 0.0) + us
            for part in {s for run in per_run for s in run}:
                parts[part][name] = _median([run.get(part, 0.0) for run in per_run])
            model = raw["model_run_us"]
            parts["runtime overhead"][name] = _median([max(0.0, m - sum(run.values())) for m, run in zip(runs, per_run)])
            nodes[name] = raw["nodes"][:12]
        totals[name] = {"model_us": model, "e2e_us": model + raw["tokenization_us"], "wall_us": raw.get("wall_us")}
    return {"batch": batch, "seq_len": seq_len, "columns": columns,
            "parts": {s: v for s, v in parts.items() if v}, "totals": totals, "top_nodes": nodes,
            "errors": errors, "module_map": modules}
