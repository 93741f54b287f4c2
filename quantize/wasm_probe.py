"""Does the quantized model run in onnxruntime-web? Ask onnxruntime-web itself, in Node.

The op table in ops.py catches known gaps before anything runs; this probe loads the fp32 and
quantized models with the *pinned* onnxruntime-web build (the same ``ort.wasm.min.mjs`` + wasm
binary the bundle ships, located by edgepack.web.vendor) in Node's V8, runs a few inputs, and
(when asked) times both interleaved on one thread, keeping every round. Node and Chromium share
V8's wasm engine: the quantize stage's wasm speed gate uses these rounds when Chromium cannot run
here (edgepack.web.browser_bench times the page itself otherwise). When Node or the onnxruntime-web
files are missing the probe is skipped and says why (the op table still applies).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

PROBE_JS = r"""
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [ortPath, specPath] = process.argv.slice(2);
const ort = await import(pathToFileURL(ortPath).href);
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';
const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const toFeeds = (f) => Object.fromEntries(Object.entries(f).map(([name, rows]) =>
  [name, new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length])]));
const feeds = spec.feeds.map(toFeeds);
const result = { models: {}, timing: null };
const sessions = {};
for (const [key, path] of Object.entries(spec.models)) {
  try {
    const s = await ort.InferenceSession.create(readFileSync(path), { executionProviders: ['wasm'] });
    const outputs = [];
    for (const f of feeds) outputs.push(Array.from((await s.run(f))[s.outputNames[0]].data));
    sessions[key] = s;
    result.models[key] = { ok: true, outputs };
  } catch (e) {
    result.models[key] = { ok: false, error: String((e && e.message) || e).split('\n')[0] };
  }
}
const keys = Object.keys(sessions);
if (keys.length === 2 && spec.rounds > 0) {
  for (let w = 0; w < 3; w++) for (const k of keys) for (const f of feeds) await sessions[k].run(f);  // V8 tier-up
  // Rounds of >= minRoundMs each: sub-millisecond runs are otherwise lost in timer and GC noise.
  let t0 = performance.now();
  for (const f of feeds) await sessions[keys[0]].run(f);
  const reps = Math.max(1, Math.ceil(spec.minRoundMs / Math.max(performance.now() - t0, 0.01)));
  const times = Object.fromEntries(keys.map((k) => [k, []]));
  const start = performance.now();
  // CPU time of this process (one wasm thread), not wall time: time the OS gives other processes
  // on a busy build machine is not counted. ms per call per round, every round kept: the Python
  // side applies the gate's looks to them.
  const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  for (let r = 0; r < spec.rounds && performance.now() - start < spec.maxMs; r++) {
    for (const k of (r % 2 ? [...keys].reverse() : keys)) {
      t0 = cpuMs();
      for (let i = 0; i < reps; i++) for (const f of feeds) await sessions[k].run(f);
      times[k].push((cpuMs() - t0) / (reps * feeds.length));
    }
  }
  result.timing = { rounds: times, texts_per_round: reps * feeds.length };
}
console.log(JSON.stringify(result));
"""
MIN_ROUND_MS = 20
TIMEOUT_S = 180


def _ort_entry() -> tuple[Path | None, str]:
    try:
        from edgepack.web.vendor import ort_files
    except ImportError:
        return None, "edgepack.web is not installed"
    try:
        found = ort_files()
    except Exception as exc:  # TargetError with its own instructions
        return None, str(exc).splitlines()[0]
    return found.files["ort.wasm.min.mjs"], f"onnxruntime-web {found.version} ({found.origin})"


def probe(fp32_path: Path, quantized_path: Path, feeds_list: list[dict[str, np.ndarray]],
          quantized_outputs: list[np.ndarray], precision: str = "int8", *, rounds: int = 0,
          max_seconds: float = 30.0) -> dict:
    """{"status": "ran"|"skipped"|"failed", ...}: load + run both models in onnxruntime-web, and
    time up to ``rounds`` interleaved rounds (at most ``max_seconds``) for the speed gate:
    ``timing.rounds`` holds ms per call per round for each precision (decided on in Python)."""
    node = shutil.which("node")
    entry, where = _ort_entry()
    if node is None or entry is None:
        return {"status": "skipped", "reason": "node is not on PATH" if node is None else where}
    with tempfile.TemporaryDirectory(prefix="edgepack-wasm-probe-") as tmp:
        script, spec = Path(tmp) / "probe.mjs", Path(tmp) / "spec.json"
        script.write_text(PROBE_JS, encoding="utf-8")
        spec.write_text(json.dumps({
            "models": {"fp32": str(fp32_path), precision: str(quantized_path)},
            "feeds": [{k: v.tolist() for k, v in f.items()} for f in feeds_list], "rounds": rounds,
            "minRoundMs": MIN_ROUND_MS, "maxMs": max_seconds * 1e3}), encoding="utf-8")
        try:
            proc = subprocess.run([node, str(script), str(entry), str(spec)], capture_output=True, text=True,
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
