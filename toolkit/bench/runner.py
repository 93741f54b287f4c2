"""Orchestration: resolve backends, make inputs, run one worker process per backend per round, merge.

Rounds interleave backends (round r runs them in an order rotated by r), so a slow minute on a
shared machine spreads over every backend instead of biasing one; within a worker, configurations
are interleaved in chunks the same way. Every repeated number is reported as a median with its spread.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgepack.bench.backends import (BACKENDS, REFERENCE, TARGETS, BenchRequest, parse_backends, row_provider,
                                     unavailable_reason)
from edgepack.bench.errors import BenchUsageError
from edgepack.errors import ArtifactError, TargetError
from edgepack.progress import QUIET, Progress

REPORT_FORMAT_VERSION = 2  # 2: the time breakdown is `breakdown` (1 called it `stages`)

# Budgets per configuration (seconds / calls). Quick mode: a CI smoke test and --json consumers, in
# seconds; full mode: the numbers the README quotes.
TIMING = {
    # many short chunks: the median chunk throughput shrugs off a chunk that a neighbour preempted
    "quick": {"warmup_s": 0.02, "warmup_calls": 2, "chunk_s": 0.012, "chunks": 7, "min_calls": 2, "max_calls": 2000},
    "full": {"warmup_s": 0.3, "warmup_calls": 5, "chunk_s": 0.08, "chunks": 15, "min_calls": 3, "max_calls": 100_000},
}
ROUNDS = {"quick": 1, "full": 3}
BREAKDOWN_ITERATIONS = {"quick": 20, "full": 100}
DEFAULT_SEQ_LENGTHS = {"quick": (16,), "full": (16, 64)}
WORKER_TIMEOUT_S = {"quick": 180, "full": 1200}

GOALS = (
    # (key, text, backend metric, comparison, target)
    ("throughput_b1", "ORT int8 end-to-end throughput ≥ 5× PyTorch eager at batch 1", 1, ">=", 5.0),
    ("throughput_b32", "ORT int8 end-to-end throughput ≥ 2× PyTorch eager at batch 32", 32, ">=", 2.0),
    ("peak_rss", "runtime peak RSS ≤ ¼ of PyTorch's", None, "<=", 0.25),
    ("cold_start", "cold start ≥ 8× faster than PyTorch", None, ">=", 8.0),
)


@dataclass
class BenchOptions:
    backends: list[str] | None = None  # None: every native backend (those that cannot run are skipped)
    batch_sizes: tuple[int, ...] = (1, 8, 32)
    seq_lengths: tuple[int, ...] | None = None
    quick: bool = False
    threads: int | None = None
    rounds: int | None = None
    target: str = "native"
    breakdown: bool = True  # the profiled time breakdown (edgepack.bench.breakdown)
    modes: tuple[str, ...] = ("e2e", "model")
    command: str | None = None  # the command line, recorded so the report says how to reproduce it
    extra: dict = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"


def _positive_ints(values, what: str) -> tuple[int, ...]:
    out = []
    for v in values:
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise BenchUsageError(f"{what}: {v!r} is not a whole number") from None
        if n <= 0 or str(v).strip() not in (str(n), f"+{n}"):
            raise BenchUsageError(f"{what}: {v!r} must be a positive whole number (got {n})")
        out.append(n)
    if not out:
        raise BenchUsageError(f"{what}: give at least one value, e.g. 1,8,32")
    return tuple(dict.fromkeys(out))


def validate(options: BenchOptions) -> None:
    options.batch_sizes = _positive_ints(options.batch_sizes, "batch size")
    if options.seq_lengths is not None:
        options.seq_lengths = _positive_ints(options.seq_lengths, "sequence length")
    if options.threads is not None and (not isinstance(options.threads, int) or options.threads <= 0):
        raise BenchUsageError(f"--threads: must be a positive whole number, got {options.threads!r}")
    if options.rounds is not None and (not isinstance(options.rounds, int) or options.rounds <= 0):
        raise BenchUsageError(f"--rounds: must be a positive whole number, got {options.rounds!r}")
    if options.target not in TARGETS:
        raise BenchUsageError(f"--target: {options.target!r} is not one of {', '.join(TARGETS)}")
    if isinstance(options.backends, str):
        options.backends = parse_backends(options.backends)
    elif options.backends is not None:
        options.backends = parse_backends(",".join(options.backends))
    bad = [m for m in options.modes if m not in ("e2e", "model")]
    if bad:
        raise BenchUsageError(f"modes: {bad} unknown (e2e, model)")


def make_texts(tokenizer, seq_len: int, count: int, seed_texts: list[str], seed: int = 0) -> list[str]:
    """``count`` different texts of exactly ``seq_len`` tokens (special tokens included), when reachable.

    Built from the project's example words, shuffled per text: realistic words for the tokenizer's
    cost, the same length in every row so padding does not blur the sequence-length axis.
    """
    words = [w for t in seed_texts for w in t.split()] or ["hello", "world"]
    rng = random.Random(seed * 1009 + seq_len)
    texts = []
    for _ in range(count):
        pool = words[:]
        rng.shuffle(pool)
        out: list[str] = []
        length, misses, j = 0, 0, 0
        while length < seq_len and misses < 4 * len(pool):
            candidate = out + [pool[j % len(pool)]]
            j += 1
            n = len(tokenizer.encode(" ".join(candidate)).ids)
            if n > seq_len or n <= length and length > 0 and n == length:
                misses += 1
                continue
            out, length = candidate, n
        texts.append(" ".join(out))
    return texts


def _load(project_path):
    from edgepack.project import load_project
    from edgepack.runtime.manifest import load_manifest

    project = load_project(project_path)
    build = project.build_dir
    if not (build / "manifest.json").is_file():
        raise ArtifactError(f"{project.root}: no built model ({build / 'manifest.json'} is missing); "
                            f"run `edgepack export {project_path}` (or `edgepack build {project_path}`) first")
    return project, load_manifest(build, verify=True)


def _find(row: dict, mode: str, batch: int, seq_len: int) -> dict | None:
    for m in row.get("measurements", []):
        if (m["mode"], m["batch"], m["seq_len"]) == (mode, batch, seq_len):
            return m
    return None


def add_ratios(rows: list[dict]) -> None:
    """Ratios against PyTorch eager, computed from the medians reported in the same rows."""
    ref = next((r for r in rows if r["backend"] == REFERENCE and r.get("status") == "ok"), None)
    for row in rows:
        if row.get("status") != "ok" or ref is None:
            continue
        for m in row.get("measurements", []):
            base = _find(ref, m["mode"], m["batch"], m["seq_len"])
            if base is None:
                continue
            m["vs_torch"] = {
                "throughput": m["throughput"] / base["throughput"],
                "throughput_realized": m["throughput_realized"]["median"] / base["throughput_realized"]["median"],
            }
        vs = {}
        if row.get("cold_start_ms", {}).get("median") and ref.get("cold_start_ms", {}).get("median"):
            vs["cold_start_speedup"] = ref["cold_start_ms"]["median"] / row["cold_start_ms"]["median"]
        if row.get("peak_rss_mb", {}).get("median") and ref.get("peak_rss_mb", {}).get("median"):
            vs["peak_rss_ratio"] = row["peak_rss_mb"]["median"] / ref["peak_rss_mb"]["median"]
        if row.get("first_output") and ref.get("first_output") and len(row["first_output"]) == len(ref["first_output"]):
            vs["first_output_max_abs_diff"] = max(abs(a - b) for a, b in zip(row["first_output"], ref["first_output"]))
        row["vs_torch"] = vs


def _share(e2e: dict | None, model: dict | None) -> float | None:
    if not e2e or not model:
        return None
    return max(0.0, 1.0 - model["latency_ms"]["p50"] / e2e["latency_ms"]["p50"])


def evaluate_goals(rows: list[dict], seq_len: int) -> list[dict]:
    by = {r["backend"]: r for r in rows if r.get("status") == "ok"}
    ref = by.get(REFERENCE)
    subject = "ort-int8" if "ort-int8" in by else ("ort-fp32" if "ort-fp32" in by else None)
    goals = []
    for key, text, batch, cmp, target in GOALS:
        goal = {"key": key, "goal": text, "target": target, "comparison": cmp, "backend": subject, "value": None,
                "met": None, "where_the_time_goes": None}
        if subject != "ort-int8":
            goal["note"] = ("no int8 model: shown for ort-fp32; run `edgepack quantize`" if subject
                            else "no ONNX Runtime CPU row")
        if ref is None or subject is None:
            goal["note"] = "not evaluated: needs both torch-eager and an ONNX Runtime CPU row"
            goals.append(goal)
            continue
        row = by[subject]
        if batch is not None:
            m = _find(row, "e2e", batch, seq_len)
            if m is None or "vs_torch" not in m:
                goal["note"] = f"not evaluated: batch {batch} at sequence length {seq_len} was not measured"
                goals.append(goal)
                continue
            goal["value"] = m["vs_torch"]["throughput"]
            goal["batch"], goal["seq_len"] = batch, seq_len
            tok_share = _share(m, _find(row, "model", batch, seq_len))
            ref_share = _share(_find(ref, "e2e", batch, seq_len), _find(ref, "model", batch, seq_len))
            model_ratio = None
            mm, rm = _find(row, "model", batch, seq_len), _find(ref, "model", batch, seq_len)
            if mm and rm:
                model_ratio = rm["latency_ms"]["p50"] / mm["latency_ms"]["p50"]
            goal["where_the_time_goes"] = {
                "tokenization_share_of_e2e": tok_share, "torch_tokenization_share_of_e2e": ref_share,
                "model_only_speedup": model_ratio,
                "e2e_p50_ms": m["latency_ms"]["p50"], "torch_e2e_p50_ms": _find(ref, "e2e", batch, seq_len)["latency_ms"]["p50"],
            }
        elif key == "peak_rss":
            goal["value"] = row.get("vs_torch", {}).get("peak_rss_ratio")
            goal["where_the_time_goes"] = {
                "peak_rss_mb": row["peak_rss_mb"]["median"], "torch_peak_rss_mb": ref["peak_rss_mb"]["median"],
                "rss_after_first_result_mb": row["rss_after_first_result_mb"]["median"],
                "torch_rss_after_first_result_mb": ref["rss_after_first_result_mb"]["median"]}
        else:
            goal["value"] = row.get("vs_torch", {}).get("cold_start_speedup")
            goal["where_the_time_goes"] = {"breakdown_ms": row["cold_start_breakdown_ms"],
                                           "torch_breakdown_ms": ref["cold_start_breakdown_ms"]}
        if goal["value"] is not None:
            goal["met"] = goal["value"] >= target if cmp == ">=" else goal["value"] <= target
        goals.append(goal)
    return goals


def resolve_backends(options: BenchOptions, manifest: dict, torch_source: bool) -> tuple[list[str], list[dict]]:
    """(names to run, skipped rows). A CUDA backend asked for by name where none exists is an error."""
    explicit = options.backends is not None
    if options.target != "native":
        names = options.backends or [REFERENCE]  # the native PyTorch row the target's rows are compared to
    else:
        names = options.backends or list(BACKENDS)
    run, skipped = [], []
    for name in names:
        backend = BACKENDS[name]
        reason = unavailable_reason(backend, manifest, torch_source)
        if reason and explicit and backend.device == "cuda":
            raise TargetError(f"--backends {name}: CUDA is not available here: {reason}")
        if reason:
            skipped.append({"backend": name, "label": backend.label, "status": "skipped", "reason": reason})
        else:
            run.append(name)
    return run, skipped


def _load_warnings(before, after, threads: int) -> list[str]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    worst = max([x[0] for x in (before, after) if x] or [0.0])
    if worst > max(0.5, cores - threads):
        return [f"the machine was busy (1-minute load average up to {worst:.1f} on {cores} cores): other processes "
                "competed for the CPU, so tail latencies and multi-threaded backends suffer most; rerun on an idle machine"]
    return []


def _default_threads(manifest, fallback: int) -> int:
    """The runtime's own choice for this model (Pipeline: 1 thread for small models), for every backend."""
    try:
        from edgepack.runtime.pipeline import default_threads
    except ImportError:
        return fallback
    return default_threads(manifest.model_path("fp32")) or fallback


@dataclass
class BenchPlan:
    """Everything decided before the first process starts: what runs, on which inputs, how long."""

    options: BenchOptions
    project: object
    manifest: object
    seq_lengths: tuple[int, ...]
    threads: int
    rounds: int
    names: list[str]  # native backends that run
    skipped: list[dict]  # rows of those that cannot run here, with the reason
    texts: dict[int, list[str]]
    text_info: dict
    provider: Callable | None  # the target's row provider (None: native only)

    @property
    def mode(self) -> str:
        return self.options.mode


def _seq_lengths(options: BenchOptions, project) -> tuple[int, ...]:
    max_length = int(project.max_length)
    seq_lengths = options.seq_lengths or tuple(
        dict.fromkeys(min(s, max_length) for s in DEFAULT_SEQ_LENGTHS[options.mode]))
    too_long = [s for s in seq_lengths if s > max_length]
    if too_long:
        raise BenchUsageError(f"--seq-lengths: {too_long} exceed the model's max_length {max_length} "
                              f"({project.path})")
    return seq_lengths


def plan_bench(project_path, options: BenchOptions | None = None) -> BenchPlan:
    """Validate the options against the built project and make the inputs; every user error is raised here."""
    from edgepack.bench import sysinfo
    from edgepack.runtime.encoder import BatchEncoder

    options = options or BenchOptions()
    validate(options)
    project, manifest = _load(project_path)
    seq_lengths = _seq_lengths(options, project)
    names, skipped = resolve_backends(options, manifest.data, torch_source="onnx" not in project.section("model"))
    provider = row_provider(options.target) if options.target != "native" else None  # fail before measuring
    options.command = options.command or f"edgepack bench {project_path}"
    tokenizer = BatchEncoder.from_manifest(manifest).tokenizer
    count = max(options.batch_sizes)
    texts = {s: make_texts(tokenizer, s, count, project.example_texts or []) for s in seq_lengths}
    text_info = {str(s): {"token_lengths": sorted({len(tokenizer.encode(t).ids) for t in ts}), "example": ts[0]}
                 for s, ts in texts.items()}
    return BenchPlan(options=options, project=project, manifest=manifest, seq_lengths=seq_lengths,
                     threads=options.threads or _default_threads(manifest, sysinfo.default_threads()),
                     rounds=options.rounds or ROUNDS[options.mode], names=names, skipped=skipped, texts=texts,
                     text_info=text_info, provider=provider)


def _breakdown_profile(plan: BenchPlan) -> dict:
    return {"batch": 1, "seq_len": plan.seq_lengths[0], "iterations": BREAKDOWN_ITERATIONS[plan.mode]}


def worker_spec(plan: BenchPlan, breakdown: bool = False) -> dict:
    """The JSON every native worker reads (see edgepack.bench.worker)."""
    return {
        "project_root": str(plan.project.root), "build_dir": str(plan.project.build_dir), "threads": plan.threads,
        "batch_sizes": list(plan.options.batch_sizes), "seq_lengths": list(plan.seq_lengths),
        "modes": list(plan.options.modes), "texts": {str(s): t for s, t in plan.texts.items()},
        "timing": TIMING[plan.mode],
        "backends": {n: {"name": n, "engine": b.engine, "device": b.device, "precision": b.precision,
                         "label": b.label} for n, b in BACKENDS.items()},
        "breakdown": {"enabled": True, **_breakdown_profile(plan)} if breakdown else {"enabled": False},
    }


def native_rows(plan: BenchPlan, progress: Progress = QUIET) -> list[dict]:
    """One merged row per native backend, measured by the bench's one worker loop."""
    from edgepack.bench.worker import run_rounds

    if not plan.names:
        return []
    spec = worker_spec(plan)
    # OpenMP / MKL pools (PyTorch) get the same count ORT's intra-op pool gets.
    env = dict(os.environ, OMP_NUM_THREADS=str(plan.threads), MKL_NUM_THREADS=str(plan.threads), PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory(prefix="edgepack-bench-") as tmp:
        plain, profiled = Path(tmp) / "spec.json", Path(tmp) / "spec-breakdown.json"
        plain.write_text(json.dumps(spec), encoding="utf-8")
        profiled.write_text(json.dumps(worker_spec(plan, breakdown=True)), encoding="utf-8")

        def spec_for(name: str, round_: int) -> Path:
            # the breakdown pass runs once per CPU backend, after that process's timings and RSS are taken
            profile = plan.options.breakdown and round_ == 0 and BACKENDS[name].device == "cpu"
            return profiled if profile else plain

        return run_rounds({n: spec["backends"][n] for n in plan.names}, plan.rounds, spec_for, env=env,
                          timeout=WORKER_TIMEOUT_S[plan.mode], progress=progress.say)


def target_rows(plan: BenchPlan, provider: Callable, progress: Progress = QUIET) -> list[dict]:
    """The rows another target (wasm, aarch64) measures on the same inputs, tagged with the target."""
    request = BenchRequest(project_root=plan.project.root, build_dir=plan.project.build_dir,
                           manifest=plan.manifest.data, batch_sizes=plan.options.batch_sizes,
                           seq_lengths=plan.seq_lengths, texts=plan.texts, quick=plan.options.quick,
                           threads=plan.threads, rounds=plan.rounds, timing=TIMING[plan.mode], progress=progress)
    progress.say(f"→ {plan.options.target} rows")
    rows = provider(request)
    for row in rows:
        row.setdefault("target", plan.options.target)
    return rows


def _order_and_compare(rows: list[dict]) -> dict:
    """Sort the rows (measured first, table order), add ratios against PyTorch; returns the breakdown table."""
    from edgepack.bench.breakdown import breakdown_table

    order = {n: i for i, n in enumerate(BACKENDS)}
    rows.sort(key=lambda r: (r.get("status") != "ok", order.get(r["backend"], len(order))))
    add_ratios(rows)
    table = breakdown_table([r for r in rows if r.get("status") == "ok"])
    for name in table.get("columns", []):
        # the profilers' own cost is large for a small model: show the unprofiled time beside it
        m = _find(next(r for r in rows if r["backend"] == name), "model", table["batch"], table["seq_len"])
        table["totals"][name]["unprofiled_model_p50_us"] = m["latency_ms"]["p50"] * 1e3 if m else None
    for r in rows:
        r.pop("breakdown_raw", None)
    return table


def make_report(plan: BenchPlan, rows: list[dict], load: dict, elapsed_s: float) -> dict:
    """The report (see report.py for its renderings) from measured rows; ``load``: {before, after}."""
    from edgepack.bench import sizes, sysinfo

    options, project = plan.options, plan.project
    table = _order_and_compare(rows)
    return {
        "format": "edgepack-bench",
        "format_version": REPORT_FORMAT_VERSION,
        "ok": any(r.get("status") == "ok" for r in rows),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": options.command,
        "project": {"name": project.name, "version": project.version, "root": str(project.root),
                    "build_dir": str(project.build_dir), "task": project.task},
        "mode": plan.mode,
        "target": options.target,
        "settings": {"batch_sizes": list(options.batch_sizes), "seq_lengths": list(plan.seq_lengths),
                     "threads": plan.threads, "rounds": plan.rounds, "modes": list(options.modes),
                     "timing": TIMING[plan.mode], "breakdown_profile": _breakdown_profile(plan)},
        "inputs": plan.text_info,
        "system": sysinfo.system_info(plan.threads),
        "reference": REFERENCE,
        "backends": rows,
        "breakdown": table,
        "sizes": {"artifacts": sizes.artifact_sizes(project.build_dir, plan.manifest.data),
                  "footprint": sizes.footprints()},
        "goals": evaluate_goals(rows, plan.seq_lengths[0]),
        "warnings": _load_warnings(load["before"], load["after"], plan.threads),
        "load_average": load,
        "elapsed_s": elapsed_s,
    }


def run_bench(project_path, options: BenchOptions | None = None, progress: Progress = QUIET) -> dict:
    """Benchmark a built project; returns the report (see report.py for its renderings)."""
    from edgepack.bench import sysinfo

    plan = plan_bench(project_path, options)
    started, before = time.monotonic(), sysinfo.load_average()
    rows = native_rows(plan, progress) + plan.skipped
    if plan.provider is not None:
        rows += target_rows(plan, plan.provider, progress)
    report = make_report(plan, rows, {"before": before, "after": sysinfo.load_average()}, time.monotonic() - started)
    for w in report["warnings"]:
        progress.say(f"warning: {w}")
    return report
