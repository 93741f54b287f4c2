"""``edgepack bench --target wasm``: the browser rows of the benchmark report.

Headless Chromium (edgepack.web.chromium) visits the fp32 and int8 bundles (edgepack.web.bench_bundles)
served by :mod:`edgepack.web.serve` on 127.0.0.1, so the numbers are those of the page a user opens.
One row per (precision, thread mode): 1 thread (plain server: not cross-origin isolated, as on any
static host) and N threads (``edgepack serve``: COOP/COEP). Every visit is a fresh browser context,
so each gives one cold start (navigation -> first result, from the page's own performance marks);
the page times predict() (classify() or embed(), by the model's task) with web/src/timing.mjs; native ONNX Runtime runs the same texts in this
process between visits (interleaved), and every row carries its ratio to native and the issue's
goals (reported, never gated). The wasm speed gate is edgepack.web.gate.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

from edgepack.web import chromium
from edgepack.web.bench_bundles import bundles_for, transfer_bytes
from edgepack.web.serve import running
from edgepack.web.visit import TIMING_MODULE, call, open_demo

# Kept importable from here for edgepack.quantize.stage until it imports them from their modules.
from edgepack.web.chromium import available as chromium_available  # noqa: F401
from edgepack.web.gate import gate_measurements, measure_precisions  # noqa: F401

# The goals for the browser (reported, not gated).
GOALS = (
    ("latency_vs_native", "per-sentence latency ≤ 2.5× native ONNX Runtime (same run)", "<=", 2.5),
    ("transfer", "bundle transfer size (brotli) ≤ 4.5 MB", "<=", 4.5e6),
    ("cold_start", "cold start (navigation → first result) ≤ 1 s on localhost", "<=", 1000.0),
)
# Per visit: a warm-up, then timed chunks (the chunk rate is exact even where the page's timer is
# coarse: 100 µs outside cross-origin isolation), with the budgets below. V8 runs new wasm code in
# its baseline tier and optimizes hot functions later, hence a time-based warm-up.
VISIT = {
    "quick": {"warmup_ms": 500, "chunks": 4, "chunk_ms": 60, "min_calls": 3, "max_calls": 400, "rounds": 1},
    "full": {"warmup_ms": 3000, "chunks": 10, "chunk_ms": 200, "min_calls": 10, "max_calls": 5000, "rounds": 3},
}


# ---------------------------------------------------------------- native reference, same run
class _Native:
    """Python ONNX Runtime on the same texts, one text per call, in this process."""

    def __init__(self, build_dir: Path, precision: str, threads: int):
        from edgepack.runtime.pipeline import Pipeline

        self.pipe = Pipeline.load(build_dir, precision=precision, threads=threads, verify=False)
        self.e2e: list[float] = []
        self.model: list[float] = []
        self.e2e_chunks: list[float] = []  # calls/s per chunk, as the page's chunks
        self.model_chunks: list[float] = []

    def measure(self, texts: list[str], chunks: int, chunk_ms: float, warmup: int = 20) -> None:
        feeds = [self.pipe.encode([t]) for t in texts]
        for i in range(warmup):
            self.pipe([texts[i % len(texts)]])
        clock = time.perf_counter
        i = 0
        for _ in range(chunks):
            start, n, e2e_s, model_s = clock(), 0, 0.0, 0.0
            while n < 3 or clock() - start < chunk_ms / 1e3:
                t0 = clock()
                self.pipe([texts[i % len(texts)]])
                t1 = clock()
                self.pipe.run(feeds[i % len(feeds)])
                t2 = clock()
                self.e2e.append((t1 - t0) * 1e3)
                self.model.append((t2 - t1) * 1e3)
                e2e_s, model_s, n, i = e2e_s + t1 - t0, model_s + t2 - t1, n + 1, i + 1
            self.e2e_chunks.append(n / e2e_s)
            self.model_chunks.append(n / model_s)


# ---------------------------------------------------------------- the row provider
def _page_file(url: str) -> bool:
    return not urlsplit(url).path.endswith("/" + TIMING_MODULE)


def _row_name(precision: str, isolate: bool) -> str:
    return f"wasm-{precision}-{'nt' if isolate else '1t'}"


def _per_call(chunk_rates: list[float]) -> float | None:
    """ms per call from the median chunk rate (calls/s): exact even where the page's timer is coarse."""
    return 1000.0 / statistics.median(chunk_rates) if chunk_rates else None


def _ratio(a, b):
    return a / b if a and b else None


def _goals(row: dict) -> list[dict]:
    values = {"latency_vs_native": row["vs_native"]["e2e_p50_ratio"], "transfer": row["transfer_bytes"],
              "cold_start": row["cold_start_ms"]["median"]}
    out = []
    for key, text, cmp, target in GOALS:
        v = values[key]
        out.append({"key": key, "goal": text, "target": target, "comparison": cmp, "value": v,
                    "met": None if v is None else (v <= target)})
    return out


def bench_rows(request) -> list[dict]:
    """Row provider of ``edgepack bench --target wasm`` (see edgepack.bench.backends)."""
    return chromium.on_own_thread(_bench_rows)(request)


def _bench_rows(request) -> list[dict]:
    from edgepack.bench import stats
    from edgepack.project import load_project

    mode = "quick" if request.quick else "full"
    plan = VISIT[mode]
    rounds = max(plan["rounds"], request.rounds)
    progress = request.progress
    say = progress.say if progress is not None else (lambda *_: None)
    project = load_project(request.project_root)
    manifest = request.manifest
    if manifest.get("model", {}).get("task") not in (None, "text-classification", "feature-extraction"):
        return [{"backend": "wasm", "label": "onnxruntime-web (Chromium)", "status": "skipped",
                 "reason": f"the browser benchmark times predict() (classify or embed); task "
                           f"{manifest['model'].get('task')!r} is not timed"}]
    why = chromium.available()
    if why:
        return [{"backend": "wasm", "label": "onnxruntime-web (Chromium)", "status": "skipped", "reason": why}]
    bundles = bundles_for(project, Path(request.build_dir), manifest, progress)
    seq = request.seq_lengths[0]
    texts = list(request.texts[seq])
    cold_text = (project.example_texts or texts)[0]
    configs = [(p, iso) for p in bundles for iso in (False, True)]
    natives = {p: _Native(Path(request.build_dir), p, request.threads) for p in bundles}
    acc = {c: {"e2e": [], "model": [], "chunks": [], "model_chunks": [], "model_p50s": [], "cold": [], "ready": [], "p50s": [], "urls": [], "info": None,
               "errors": [], "observed": []} for c in configs}
    with chromium.launch() as browser:
        version = chromium.version(browser)
        for r in range(rounds):
            order = configs[r % len(configs):] + configs[: r % len(configs)]
            for precision, isolate in order:
                a = acc[(precision, isolate)]
                say(f"  round {r + 1}/{rounds}: {_row_name(precision, isolate)}")
                with running(bundles[precision], isolate=isolate) as url, \
                        open_demo(browser, url, cold_text) as (page, log):
                    got = call(page, "predictChunks", texts, plan)
                    marks = log.marks
                    a["cold"].append(marks["first_result"])
                    a["ready"].append(marks["ready"])
                    a["info"] = {**marks["info"], "isolated": marks["isolated"]}
                    wire = log.wire_bytes()  # sizes are only known while the context is open
                # The timing harness is the benchmark's, not the page's: not part of what a user downloads.
                a["urls"].extend(u for u in log.requests if _page_file(u))
                a["observed"].extend((u, n) for u, n in wire if _page_file(u))
                a["errors"].extend(log.errors)
                a["e2e"].extend(got["e2e"])
                a["model"].extend(got["model"])
                a["p50s"].append(stats.percentile(got["e2e"], 50))
                a["chunks"].extend(c["calls"] * 1000.0 / c["ms"] for c in got["chunks"] if c["ms"] > 0)
                a["model_chunks"].extend(c["calls"] * 1000.0 / c["model_ms"] for c in got["chunks"] if c["model_ms"] > 0)
                a["model_p50s"].append(stats.percentile(got["model"], 50))
                # native, same texts, right after this visit: a slow minute hits both
                natives[precision].measure(texts, plan["chunks"], plan["chunk_ms"] / 2)
    rows = []
    for (precision, isolate), a in acc.items():
        native = natives[precision]
        e2e = stats.measurement("e2e", 1, seq, a["e2e"], a["chunks"], a["p50s"])
        model = stats.measurement("model", 1, seq, a["model"], a["model_chunks"], a["model_p50s"])
        n_e2e, n_model = stats.latency_summary(native.e2e), stats.latency_summary(native.model)
        transfer, fetched = transfer_bytes(bundles[precision], a["urls"])
        observed = {}
        for url, size in a["observed"]:
            rel = urlsplit(url).path.lstrip("/") or "index.html"
            if size > 0:  # 0: served from the page's own cache (e.g. ORT's workers re-importing the .mjs)
                observed[rel] = size  # the last visit's body size per file (all visits are alike)
        info = a["info"]
        threads = info["threads"]
        row = {
            "backend": _row_name(precision, isolate), "target": "wasm", "status": "ok", "engine": "onnxruntime-web",
            "label": (f"onnxruntime-web {info['ortVersion']} {precision}, {threads} thread{'s' if threads > 1 else ''} "
                      + ("(edgepack serve: cross-origin isolated)" if isolate else "(plain server: not isolated)")),
            "precision": precision, "threads": threads, "cross_origin_isolated": info["isolated"],
            "simd": info["simd"], "threads_reason": info.get("threadsReason"), "browser": version,
            "bundle": str(bundles[precision]), "rounds": rounds, "visits": len(a["cold"]),
            "cold_start_ms": stats.spread(a["cold"]), "ready_ms": stats.spread(a["ready"]),
            "measurements": [e2e, model],
            # Chromium coarsens performance.now() to 100 µs outside cross-origin isolation (5 µs
            # inside): per-call percentiles of the 1-thread rows are quantized to it. The per-call
            # times from whole chunks are exact but take in every stall of a busy machine; the
            # goal uses the p50 ratio (robust to stalls) and both are reported.
            "timer_resolution_ms": 0.005 if info["isolated"] else 0.1,
            "e2e_per_call_ms": _per_call(a["chunks"]), "model_per_call_ms": _per_call(a["model_chunks"]),
            "transfer_bytes": transfer, "transfer_files": fetched,
            "transfer_observed": observed,
            "native": {"engine": "onnxruntime (Python, this process)", "threads": native.pipe.threads,
                       "e2e_ms": n_e2e, "model_ms": n_model,
                       "e2e_per_call_ms": _per_call(native.e2e_chunks), "model_per_call_ms": _per_call(native.model_chunks)},
            "vs_native": {"e2e_p50_ratio": _ratio(e2e["latency_ms"]["p50"], n_e2e["p50"]),
                          "model_p50_ratio": _ratio(model["latency_ms"]["p50"], n_model["p50"]),
                          "e2e_per_call_ratio": _ratio(_per_call(a["chunks"]), _per_call(native.e2e_chunks)),
                          "model_per_call_ratio": _ratio(_per_call(a["model_chunks"]), _per_call(native.model_chunks))},
            "page_errors": a["errors"][:10],
        }
        row["wasm_goals"] = _goals(row)
        rows.append(row)
    return rows


def summary_lines(rows: list[dict]) -> list[str]:
    """One line per wasm row: what the README's browser row is made of."""
    out = []
    for r in rows:
        if r.get("status") != "ok":
            out.append(f"{r['backend']}: {r['status']} ({r.get('reason')})")
            continue
        e2e = r["measurements"][0]["latency_ms"]
        out.append(f"{r['backend']}: {r['threads']} thread(s), cold start {r['cold_start_ms']['median']:.0f} ms, "
                   f"p50 {e2e['p50']:.3f} ms, p99 {e2e['p99']:.3f} ms (native p50 {r['native']['e2e_ms']['p50']:.3f} ms, "
                   f"×{r['vs_native']['e2e_p50_ratio']:.2f}; whole-chunk per call {r['e2e_per_call_ms']:.3f} vs "
                   f"{r['native']['e2e_per_call_ms']:.3f} ms), "
                   f"transfer {r['transfer_bytes'] / 1e6:.2f} MB")
    return out
