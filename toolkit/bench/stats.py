"""Summaries of timing samples. Standard library only: worker processes and row providers import it.

Percentiles use linear interpolation between closest ranks (numpy's default), so a provider in
another language gets the same numbers from the same samples.
"""

from __future__ import annotations

import math
import statistics
from typing import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def spread(values: Iterable[float]) -> dict:
    """Median with its spread (min / max and sample count): what every repeated number reports."""
    vals = [float(v) for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def latency_summary(latencies_ms: Sequence[float]) -> dict:
    return {
        "p50": percentile(latencies_ms, 50),
        "p90": percentile(latencies_ms, 90),
        "p99": percentile(latencies_ms, 99),
        "mean": statistics.fmean(latencies_ms) if latencies_ms else None,
        "min": min(latencies_ms) if latencies_ms else None,
        "max": max(latencies_ms) if latencies_ms else None,
        "n": len(latencies_ms),
    }


def measurement(mode: str, batch: int, seq_len: int, latencies_ms: Sequence[float],
                chunk_throughputs: Sequence[float], round_p50s: Sequence[float] | None = None) -> dict:
    """One row of a backend's ``measurements``: the schema every row provider returns.

    ``mode``: "e2e" (text -> probabilities, tokenizer included) or "model" (token ids -> probabilities).
    ``latencies_ms``: one per call; ``chunk_throughputs``: items/s of each timed chunk (a chunk = a
    run of consecutive calls between which other configurations ran).

    ``throughput`` (items/s) is ``batch / p50``: on a shared machine one preempted call can halve a
    chunk's realized rate, the median call cannot be moved that way, so ratios use it.
    ``throughput_realized`` (median chunk rate with its spread) is what a caller saw, stalls included.
    """
    lat = latency_summary(latencies_ms)
    p50s = list(round_p50s) if round_p50s else [lat["p50"]]
    return {
        "mode": mode,
        "batch": int(batch),
        "seq_len": int(seq_len),
        "latency_ms": lat,
        "throughput": batch * 1000.0 / lat["p50"] if lat["p50"] else None,
        "throughput_realized": spread(chunk_throughputs),
        "p50_by_round": spread(p50s),
    }


def merge_rounds(rows: list[dict]) -> dict:
    """One backend's rounds -> one row: pooled latency percentiles, medians with spread."""
    ok = [r for r in rows if r.get("status") == "ok"]
    if not ok:
        return rows[-1]
    first = ok[0]
    merged = {k: v for k, v in first.items() if k not in ("configs", "cold_start", "rss_mb", "breakdown_raw", "pid")}
    merged["rounds"] = len(ok)
    merged["failed_rounds"] = [r.get("reason") for r in rows if r.get("status") != "ok"]
    merged["cold_start_ms"] = spread(r["cold_start"]["total_ms"] for r in ok)
    merged["cold_start_breakdown_ms"] = {k: spread(r["cold_start"][k] for r in ok)["median"]
                                         for k in ("interpreter_ms", "imports_ms", "load_ms", "first_run_ms")}
    merged["peak_rss_mb"] = spread(r["rss_mb"]["peak"] for r in ok)
    merged["rss_after_first_result_mb"] = spread(r["rss_mb"]["after_first_result"] for r in ok)
    groups: dict[tuple, dict] = {}
    for r in ok:
        for c in r["configs"]:
            g = groups.setdefault((c["mode"], c["batch"], c["seq_len"]), {"lat": [], "thr": [], "p50s": []})
            g["lat"].extend(c["latencies_ms"])
            g["thr"].extend(c["chunk_throughputs"])
            g["p50s"].append(percentile(c["latencies_ms"], 50))
    merged["measurements"] = [measurement(mode, b, s, g["lat"], g["thr"], g["p50s"])
                              for (mode, b, s), g in groups.items()]
    raws = [r["breakdown_raw"] for r in ok if r.get("breakdown_raw")]
    if raws:
        merged["breakdown_raw"] = raws[0]
    return merged
