"""Comparing two runtimes output by output, collecting every mismatch before failing.

Used by export (PyTorch vs ORT fp32) and by quantization (ORT fp32 vs int8). The report prints a
✓/✗ line per output and raises one :class:`ParityError` listing all mismatches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from edgepack.errors import ParityError


@dataclass
class OutputStats:
    name: str
    max_abs_diff: float = 0.0
    mean_abs_diff_sum: float = 0.0
    elements: int = 0
    argmax_mismatches: int = 0
    rows: int = 0
    shape_mismatches: list[str] = field(default_factory=list)

    @property
    def mean_abs_diff(self) -> float:
        return self.mean_abs_diff_sum / max(self.elements, 1)


@dataclass
class ParityReport:
    reference: str
    candidate: str
    tolerance: float
    check_argmax: bool
    cases: int = 0
    outputs: dict[str, OutputStats] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.cases > 0

    def lines(self) -> list[str]:
        out = []
        for s in self.outputs.values():
            bad = s.max_abs_diff > self.tolerance or s.shape_mismatches or (self.check_argmax and s.argmax_mismatches)
            mark = "✗" if bad else "✓"
            text = (f"{mark} {s.name}: max |Δ| {s.max_abs_diff:.2e} (tolerance {self.tolerance:.0e}), "
                    f"mean |Δ| {s.mean_abs_diff:.2e} over {self.cases} batches / {s.rows} rows")
            if self.check_argmax:
                text += f", argmax identical {s.rows - s.argmax_mismatches}/{s.rows}"
            out.append(text)
        return out

    def as_dict(self) -> dict:
        return {
            "reference": self.reference, "candidate": self.candidate, "tolerance": self.tolerance,
            "cases": self.cases, "ok": self.ok,
            "outputs": {n: {"max_abs_diff": s.max_abs_diff, "mean_abs_diff": s.mean_abs_diff, "rows": s.rows,
                            "argmax_mismatches": s.argmax_mismatches} for n, s in self.outputs.items()},
            "mismatches": self.mismatches[:50],
        }

    def raise_if_failed(self) -> None:
        if self.ok:
            return
        shown = self.mismatches[:20]
        more = len(self.mismatches) - len(shown)
        listing = "\n  ".join(shown + ([f"... and {more} more"] if more > 0 else []))
        raise ParityError(
            f"{self.candidate} does not match {self.reference} ({len(self.mismatches)} mismatch(es)):\n  {listing}",
            self.mismatches,
        )


def compare(
    cases: Iterable[tuple[str, dict[str, np.ndarray]]],
    reference: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    candidate: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    *,
    reference_name: str,
    candidate_name: str,
    tolerance: float,
    check_argmax: bool,
) -> ParityReport:
    report = ParityReport(reference_name, candidate_name, tolerance, check_argmax)
    for label, feeds in cases:
        report.cases += 1
        ref, got = reference(feeds), candidate(feeds)
        for name, want in ref.items():
            stats = report.outputs.setdefault(name, OutputStats(name))
            have = got.get(name)
            if have is None:
                report.mismatches.append(f"{label}: output {name!r} missing from {candidate_name}")
                continue
            want, have = np.asarray(want, np.float64), np.asarray(have, np.float64)
            if want.shape != have.shape:
                msg = f"{label}: {name} shape {have.shape} != {want.shape}"
                stats.shape_mismatches.append(msg)
                report.mismatches.append(msg)
                continue
            diff = np.abs(want - have)
            stats.elements += diff.size
            stats.mean_abs_diff_sum += float(diff.sum())
            stats.rows += want.shape[0] if want.ndim else 1
            worst = float(diff.max(initial=0.0))
            stats.max_abs_diff = max(stats.max_abs_diff, worst)
            if not worst <= tolerance:  # also catches NaN
                report.mismatches.append(f"{label}: {name} max |Δ| {worst:.3e} > {tolerance:.0e}")
            if check_argmax and want.ndim == 2:
                rows = np.flatnonzero(want.argmax(-1) != have.argmax(-1))
                # A tie within tolerance is not a disagreement.
                rows = [r for r in rows if abs(want[r].max() - want[r][have[r].argmax()]) > tolerance]
                stats.argmax_mismatches += len(rows)
                for r in rows[:5]:
                    report.mismatches.append(
                        f"{label}: {name} row {r}: argmax {int(have[r].argmax())} != {int(want[r].argmax())}")
    return report
