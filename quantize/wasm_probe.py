"""Does the quantized model run in onnxruntime-web? Ask onnxruntime-web itself, in Node.

The op table in ops.py catches known gaps before anything runs; this probe loads the fp32 and
quantized models with the *pinned* onnxruntime-web build (the same ``ort.wasm.min.mjs`` + wasm
binary the bundle ships, located by edgepack.web.vendor) in Node's V8, runs a few inputs, and
(when asked) times both interleaved on one thread, keeping every round. Node and Chromium share
V8's wasm engine: the quantize stage's wasm speed gate uses these rounds when Chromium cannot run
here (edgepack.web.gate times the page itself otherwise). When Node or the onnxruntime-web
files are missing the probe is skipped and says why (the op table still applies).

The JavaScript is web/bin/wasm_probe.mjs on the one timing harness web/src/timing.mjs (sessions
through web/src/session.mjs), covered by ``node --test web/test/``; this module only writes its
spec, runs it and reads its one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROUND_MS = 20
WARMUP_MS = 250  # ms of V8 tier-up before timing (warmup() in web/src/timing.mjs)
TIMEOUT_S = 180


def _ort_files() -> tuple[dict[str, Path] | None, Path | None, str]:
    """(ORT file name -> path, the probe script, where they come from), or Nones and why not."""
    try:
        from edgepack.web.vendor import WEB_DIR, ort_files
    except ImportError:
        return None, None, "edgepack.web is not installed"
    try:
        found = ort_files()
    except Exception as exc:  # TargetError with its own instructions
        return None, None, str(exc).splitlines()[0]
    return dict(found.files), WEB_DIR / "bin" / "wasm_probe.mjs", f"onnxruntime-web {found.version} ({found.origin})"


def probe(fp32_path: Path, quantized_path: Path, feeds_list: list[dict[str, np.ndarray]],
          quantized_outputs: list[np.ndarray], precision: str = "int8", *, rounds: int = 0,
          max_seconds: float = 30.0) -> dict:
    """{"status": "ran"|"skipped"|"failed", ...}: load + run both models in onnxruntime-web, and
    time up to ``rounds`` interleaved rounds (at most ``max_seconds``) for the speed gate:
    ``timing.rounds`` holds ms per call per round for each precision (decided on in Python)."""
    node = shutil.which("node")
    ort, script, where = _ort_files()
    if node is None or ort is None:
        return {"status": "skipped", "reason": "node is not on PATH" if node is None else where}
    with tempfile.TemporaryDirectory(prefix="edgepack-wasm-probe-") as tmp:
        ort_dir, spec = Path(tmp) / "ort", Path(tmp) / "spec.json"
        ort_dir.mkdir()
        for name, path in ort.items():  # one folder, as a bundle's ort/ (the vendored files may not be)
            (ort_dir / name).symlink_to(Path(path).resolve())
        spec.write_text(json.dumps({
            "models": {"fp32": str(fp32_path), precision: str(quantized_path)},
            "feeds": [{k: v.tolist() for k, v in f.items()} for f in feeds_list], "rounds": rounds,
            "roundMs": ROUND_MS, "warmupMs": WARMUP_MS, "maxMs": max_seconds * 1e3}), encoding="utf-8")
        try:
            proc = subprocess.run([node, str(script), str(ort_dir), str(spec)], capture_output=True, text=True,
                                  timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return {"status": "failed", "runtime": where, "reason": f"node did not finish in {TIMEOUT_S}s"}
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "failed", "runtime": where, "reason": f"node exited {proc.returncode}: {tail}"}
    out = {"status": "ran", "runtime": where, "models": {}}
    for key, model in data["models"].items():
        entry_out = {"loads": model["ok"]}
        if not model["ok"]:
            entry_out["error"] = model["error"]
        elif key == precision:
            # int8 in wasm differs from native x86 in the 3rd-4th decimal (design.md): recorded, not gated.
            diffs = [float(np.max(np.abs(np.asarray(a, np.float64).ravel() - np.asarray(b, np.float64).ravel())))
                     for a, b in zip(model["outputs"], quantized_outputs)]
            entry_out["max_abs_diff_vs_native"] = max(diffs) if diffs else 0.0
        out["models"][key] = entry_out
    if data.get("timing"):
        t = data["timing"]
        out["timing"] = {"rounds": {"fp32": t["rounds"]["fp32"], precision: t["rounds"][precision]},
                         "texts_per_round": t["texts_per_round"],
                         "measured_on": f"Node {_node_version(node)} (V8 wasm), {where}, one thread",
                         "clock": "process CPU time"}
    return out


def _node_version(node: str) -> str:
    try:
        return subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "(version unknown)"
