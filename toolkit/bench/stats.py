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
