"""The golden self-test: a runtime's outputs held to the manifest's golden vectors.

One rule for every Python runtime: ``Pipeline.self_test`` (build machine, Pi service) and the Pyodide
page's ``BrowserPipeline.self_test`` both call it. Pure and standard library only: the caller runs
the model, so a synchronous caller (ONNX Runtime) and an asynchronous one (onnxruntime-web reached
from Pyodide) share every comparison::

    report, cases = selftest.start(manifest, precision, tokenizer)
    for case in cases:
        selftest.compare(report, case, first_rows_by_output_name(run(case.encoding)))
    report.ok
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from edgepack.runtime.artifacts import PRECISION_TOLERANCE


@dataclass
class SelfTestReport:
    precision: str
    tolerance: float
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    max_abs_diff: float = 0.0

    @property
    def ok(self) -> bool:
        return self.checked > 0 and not self.failures

    def as_dict(self) -> dict:
        return {"ok": self.ok, "precision": self.precision, "checked": self.checked, "tolerance": self.tolerance,
                "max_abs_diff": self.max_abs_diff, "failures": self.failures}


@dataclass(frozen=True)
class GoldenCase:
    """One golden vector whose token ids matched: the model still has to be run on ``encoding``."""

    index: int
    encoding: Any  # the runtime tokenizer's Encoding
    expected: Mapping[str, Sequence[float]]  # output name -> the recorded first row


def tolerance(manifest, precision: str) -> float:
    """The manifest's tolerance for ``precision`` (recorded at quantize time), else the default per precision."""
    entry = manifest.precisions.get(precision, {})
    return float(entry.get("tolerance", PRECISION_TOLERANCE.get(precision, 1e-5)))


def start(manifest, precision: str, tokenizer) -> tuple[SelfTestReport, list[GoldenCase]]:
    """Check the tokenizer against every golden vector that has outputs for ``precision``.

    A token-id mismatch is a failure and its case is not run (the model's output would say nothing).
    No golden outputs for the precision at all is a failure too: a self-test that checked nothing
    must not pass.
    """
    report = SelfTestReport(precision=precision, tolerance=tolerance(manifest, precision))
    cases = []
    for i, golden in enumerate(manifest.golden):
        expected = (golden.get("outputs") or {}).get(precision)
        if expected is None:
            continue
        report.checked += 1
        enc = tokenizer.encode(golden["text"], golden.get("pair"))
        if list(enc.ids) != list(golden["input_ids"]):
            report.failures.append(f"golden[{i}]: token ids differ from the manifest")
            continue
        cases.append(GoldenCase(i, enc, expected))
    if report.checked == 0:
        report.failures.append(f"the manifest has no golden outputs for precision {precision}")
    return report, cases


def max_abs_diff(got: Sequence[float], want: Sequence[float]) -> float:
    """Largest |got - want|; inf when the lengths differ or a value is not a number (never a silent pass)."""
    got = list(got.reshape(-1)) if hasattr(got, "reshape") else list(got)
    if len(got) != len(want):
        return math.inf
    worst = 0.0
    for a, b in zip(got, want):
        d = abs(float(a) - float(b))
        if math.isnan(d):
            return math.inf
        worst = max(worst, d)
    return worst


def compare(report: SelfTestReport, case: GoldenCase, outputs: Mapping[str, Sequence[float]]) -> None:
    """Record ``outputs`` (output name -> the model's row for ``case``) against the golden row."""
    for name, values in case.expected.items():
        if name not in outputs:
            report.failures.append(f"golden[{case.index}] {name}: the model has no output {name!r}")
            continue
        diff = max_abs_diff(outputs[name], values)
        report.max_abs_diff = max(report.max_abs_diff, diff)
        if not diff <= report.tolerance:
            report.failures.append(f"golden[{case.index}] {name}: max |Δ| {diff:.3g} > {report.tolerance:g}")
