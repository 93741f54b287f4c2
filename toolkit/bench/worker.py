"""One backend, one process: cold start, memory and latency measured where nothing else is loaded.

Both ends of the worker protocol live here. The parent side, :func:`run_rounds`, is the one bench
loop: `edgepack bench` (native), the aarch64 rows under qemu (edgepack.edge.bench) and ``bench.sh``
on a Pi (edgepack.edge.ondevice_bench) all call it; it ships in the Pi package with this module.

Run as ``python -m edgepack.bench.worker SPEC.json BACKEND SPAWN_T OUT.json`` where
SPAWN_T is the runner's ``time.monotonic()`` just before it started this process (CLOCK_MONOTONIC is
system-wide on Linux, so "process start -> first result" includes interpreter start-up and imports).
Top-level imports are standard library only: everything a backend needs is imported inside the
timed cold start.

Result row schema (also what row providers return; fields a target cannot measure may be absent)::

    backend, label, status ("ok" | "skipped" | "failed"), reason (when not ok), engine, device,
    precision, threads, versions {name: version},
    cold_start {total_ms, interpreter_ms, imports_ms, load_ms, first_run_ms},
    rss_mb {after_first_result, peak},          peak: VmHWM before the profiler runs
    configs [{mode, batch, seq_len, latencies_ms [..], chunk_throughputs [..]}]   raw samples
    first_output [floats]                        the first result, to check backends agree
    breakdown_raw {...}                          see edgepack.bench.breakdown
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
from array import array


def _vm_kib(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    if field == "VmHWM":
        import resource

        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
    return None


def _mb(kib: float | None) -> float | None:
    return None if kib is None else kib / 1024.0


class Skip(Exception):
    """The backend cannot run here after all (found out inside the worker, e.g. no CUDA device)."""


# ---------------------------------------------------------------- engines
class OrtEngine:
    def __init__(self, spec, backend):
        from edgepack.runtime.manifest import load_manifest
        from edgepack.runtime.pipeline import Pipeline

        # The runner verified every checksum once; a worker re-hashing would only inflate cold start.
        self.manifest = load_manifest(spec["build_dir"], verify=False)
        self.pipeline = Pipeline(self.manifest, precision=backend["precision"], provider=backend["device"],
                                 threads=spec["threads"])
        self.output = self.pipeline.output_names[0]

    @staticmethod
    def versions():
        import onnxruntime

        return {"onnxruntime": onnxruntime.__version__}

    def encode(self, texts):
        return self.pipeline.encode(texts)

    def e2e(self, texts):
        return self.pipeline(texts)[self.output]

    def prepare(self, feeds):
        return feeds

    def model(self, feeds):
        return self.pipeline.run(feeds)[self.output]

    def profile(self, spec, backend, texts, feeds, iterations, workdir):
        from edgepack.bench.breakdown import profile_ort

        return profile_ort(self.pipeline, spec["build_dir"], backend, spec["threads"], texts, feeds,
                           iterations, workdir)


class TorchEngine:
    def __init__(self, spec, backend):
        import torch

        torch.set_num_threads(int(spec["threads"]))
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set (only possible once per process)
            pass
        self.torch = torch
        self.device = backend["device"]
        if self.device == "cuda" and not torch.cuda.is_available():
            raise Skip("torch.cuda.is_available() is False on this machine")
        from edgepack.project import load_project
        from edgepack.runtime.manifest import load_manifest
        from edgepack.export import model_output
        from edgepack.runtime.encoder import BatchEncoder
        from edgepack.sources import build_module

        self.model_output = model_output

        self.manifest = load_manifest(spec["build_dir"], verify=False)
        project = load_project(spec["project_root"])
        self.module = build_module(project).to(self.device)
        self.softmax = (project.task == "text-classification"
                        and project.section("model").get("output", "logits") == "logits")
        self.names = self.manifest.input_names
        self.encoder = BatchEncoder.from_manifest(self.manifest, self.names)

    @staticmethod
    def versions():
        import torch

        return {"torch": torch.__version__}

    def forward(self, *tensors, label=None):
        """The project's module + the softmax export puts in the graph: same output as the ONNX model.

        ``label(name)``: a context manager the breakdown profiler passes to mark the softmax.
        """
        out = self.model_output(self.module(*tensors))
        if not self.softmax:
            return out
        if label is None:
            return self.torch.softmax(out, dim=-1)
        with label("softmax"):
            return self.torch.softmax(out, dim=-1)

    def encode(self, texts):
        return self.encoder(texts)

    def _run(self, tensors):
        with self.torch.inference_mode():
            out = self.forward(*(t.to(self.device) for t in tensors))
            return out.cpu().numpy()  # .cpu() waits for CUDA: the timing covers the whole call

    def e2e(self, texts):
        feeds = self.encode(texts)
        return self._run([self.torch.from_numpy(feeds[n]) for n in self.names])

    def prepare(self, feeds):
        return [self.torch.from_numpy(feeds[n]) for n in self.names]

    def model(self, tensors):
        return self._run(tensors)

    def profile(self, spec, backend, texts, feeds, iterations, workdir):
        from edgepack.bench.breakdown import profile_torch

        return profile_torch(self, texts, self.prepare(feeds), iterations)


# ---------------------------------------------------------------- timing
def measure(runs, timing):
    """Warm up every configuration, then time them in interleaved chunks.

    ``runs``: [(config dict, fn, items per call)]. Chunks rotate through the configurations, so slow
    drift (thermal, a neighbour process) spreads over all of them instead of biasing one.
    """
    per_call = []
    for _cfg, fn, _items in runs:
        t0 = time.perf_counter()
        n = 0
        while n < timing["warmup_calls"] or (time.perf_counter() - t0 < timing["warmup_s"] and n < 10_000):
            fn()
            n += 1
        per_call.append((time.perf_counter() - t0) / n)
    counts = [max(timing["min_calls"], min(timing["max_calls"], int(timing["chunk_s"] / max(t, 1e-7))))
              for t in per_call]
    # Samples are kept in typed arrays (8 bytes each, not a 32-byte float object + list slot): the
    # harness's own memory must not inflate the peak RSS it reports for the runtime (100k samples
    # in full mode were ~3 MB as lists). run() turns them into lists after the peak is read.
    results = [dict(cfg, latencies_ms=array("d"), chunk_throughputs=[]) for cfg, _, _ in runs]
    clock = time.perf_counter_ns
    for chunk in range(timing["chunks"]):
        for k in range(len(runs)):
            i = (k + chunk) % len(runs)
            _cfg, fn, items = runs[i]
            n = counts[i]
            lat = array("q")
            gc.collect()
            start = clock()
            for _ in range(n):
                t = clock()
                fn()
                lat.append(clock() - t)
            total = clock() - start
            results[i]["latencies_ms"].extend(x / 1e6 for x in lat)
            results[i]["chunk_throughputs"].append(items * n / (total / 1e9))
    return results


def run(spec: dict, backend: dict, spawn_t: float, workdir: str) -> dict:
    t_main = time.monotonic()
    row = {"backend": backend["name"], "label": backend["label"], "engine": backend["engine"],
           "device": backend["device"], "precision": backend["precision"], "threads": spec["threads"],
           "pid": os.getpid()}
    t0 = time.monotonic()
    if backend["engine"] == "torch":
        import numpy  # noqa: F401  (timed with the engine: the tokenizer pads with numpy)
        import torch  # noqa: F401

        cls = TorchEngine
    else:
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401

        cls = OrtEngine
    t1 = time.monotonic()
    engine = cls(spec, backend)
    t2 = time.monotonic()
    seq0 = str(spec["seq_lengths"][0])
    first = engine.e2e(spec["texts"][seq0][:1])
    t3 = time.monotonic()
    row["cold_start"] = {"total_ms": (t3 - spawn_t) * 1e3, "interpreter_ms": (t_main - spawn_t) * 1e3,
                         "imports_ms": (t1 - t0) * 1e3, "load_ms": (t2 - t1) * 1e3, "first_run_ms": (t3 - t2) * 1e3}
    row["rss_mb"] = {"after_first_result": _mb(_vm_kib("VmRSS"))}
    row["first_output"] = [float(x) for x in first.reshape(-1)[:64]]
    row["versions"] = engine.versions()

    runs = []
    for seq in spec["seq_lengths"]:
        texts_all = spec["texts"][str(seq)]
        for batch in spec["batch_sizes"]:
            texts = texts_all[:batch]
            feeds = engine.prepare(engine.encode(texts))
            if "e2e" in spec["modes"]:
                runs.append(({"mode": "e2e", "batch": batch, "seq_len": seq}, (lambda t=texts: engine.e2e(t)), batch))
            if "model" in spec["modes"]:
                runs.append(({"mode": "model", "batch": batch, "seq_len": seq}, (lambda f=feeds: engine.model(f)), batch))
    gc.collect()
    gc.freeze()  # the loaded model and module are long-lived: keep them out of every collection
    row["configs"] = measure(runs, spec["timing"])
    row["rss_mb"]["peak"] = _mb(_vm_kib("VmHWM"))
    for cfg in row["configs"]:
        cfg["latencies_ms"] = [round(x, 5) for x in cfg["latencies_ms"]]
    # proof that the runtime's memory is its own: an ORT worker must never have loaded torch
    row["loaded"] = {m: m in sys.modules for m in ("torch", "onnx", "onnxruntime")}
    if backend["device"] == "cuda" and backend["engine"] == "torch":
        import torch

        row["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20

    breakdown_spec = spec.get("breakdown") or {}
    if breakdown_spec.get("enabled"):
        seq = str(breakdown_spec["seq_len"])
        texts = spec["texts"][seq][: breakdown_spec["batch"]]
        try:
            row["breakdown_raw"] = engine.profile(spec, backend, texts, engine.encode(texts),
                                                  int(breakdown_spec["iterations"]), workdir)
            row["breakdown_raw"].update(batch=breakdown_spec["batch"], seq_len=int(seq))
        except Exception as exc:  # a profiler failure must not lose the measurements
            row["breakdown_raw"] = {"error": f"{type(exc).__name__}: {exc}"}
    row["status"] = "ok"
    return row


# ---------------------------------------------------------------- the parent side: spawn, interleave, merge
def spawn(python: list[str], spec_path, backend: dict, out_path, env: dict | None = None,
          timeout: float | None = None) -> dict:
    """One worker process for ``backend``; its result row, or a failed row saying why there is none.

    ``python``: the command that runs the worker's Python (a qemu prefix + the device python under
    emulation). The spawn time is taken just before the process starts: it is the cold start's zero.
    """
    import subprocess

    name = backend["name"]
    spawn_t = time.monotonic()
    cmd = list(python) + ["-m", "edgepack.bench.worker", str(spec_path), name, repr(spawn_t), str(out_path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"backend": name, "label": backend["label"], "status": "failed",
                "reason": f"worker timed out after {timeout:.0f}s"}
    try:
        with open(out_path, encoding="utf-8") as f:
            row = json.load(f)
        os.unlink(out_path)
    except (OSError, ValueError):
        return {"backend": name, "label": backend["label"], "status": "failed",
                "reason": f"worker exited with code {proc.returncode} and no result: {proc.stderr.strip()[-800:]}"}
    if row.get("status") == "failed" and proc.stderr.strip():
        row["stderr_tail"] = proc.stderr.strip()[-2000:]
    return row


def run_rounds(backends: dict, rounds: int, spec_path, python: list[str] | None = None, env: dict | None = None,
               timeout: float | None = None, progress=None) -> list[dict]:
    """Every backend ``rounds`` times, one fresh worker each; one merged row per backend, in order.

    Round r runs the backends in an order rotated by r, so a slow minute on a shared machine spreads
    over every backend instead of biasing one. ``spec_path``: the worker spec, or
    ``spec_path(name, round) -> path`` when some runs get another spec (the native breakdown pass).
    Result files go beside the spec (the breakdown profiler writes its traces there too).
    """
    from edgepack.bench.stats import merge_rounds

    python = list(python) if python else [sys.executable]
    names = list(backends)
    results: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(rounds):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            spec = spec_path(name, r) if callable(spec_path) else spec_path
            out = os.path.join(os.path.dirname(str(spec)), f"{name}-{r}.json")
            if progress is not None:
                progress(f"-> round {r + 1}/{rounds}: {name}")  # ASCII: a Pi console may be C-locale
            row = spawn(python, spec, backends[name], out, env=env, timeout=timeout)
            if row.get("status") != "ok" and progress is not None:
                progress(f"  {name}: {row.get('status')}: {row.get('reason')}")
            results[name].append(row)
    return [merge_rounds(results[n]) for n in names]


def main(argv: list[str]) -> int:
    spec_path, backend_name, spawn_t, out_path = argv[1], argv[2], float(argv[3]), argv[4]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    backend = spec["backends"][backend_name]
    code = 0
    try:
        row = run(spec, backend, spawn_t, os.path.dirname(out_path))
    except Skip as exc:
        row = {"backend": backend_name, "label": backend["label"], "status": "skipped", "reason": str(exc)}
    except Exception as exc:
        row = {"backend": backend_name, "label": backend["label"], "status": "failed",
               "reason": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=8)}
        code = 1
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(row, f)
    os.replace(tmp, out_path)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
