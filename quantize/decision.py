"""Which precision a target ships, decided once and recorded: the statistics and the rule.

One record type for every target (cpu, rpi: native ONNX Runtime; wasm: onnxruntime-web in
Chromium or Node). The quantize stage makes each decision once per inputs fingerprint and writes
``Decision.as_dict()`` to ``build/manifest.json`` ``targets.<target>``; the builders read it back
with :meth:`Decision.from_dict` and copy it into the artifact, never re-measuring.

The speed rule (README "Quantization"): fp32 and the quantized model are timed in interleaved
rounds (order alternating, so a noisy neighbour slows both alike); each round gives one paired
ratio quantized/fp32. The ratio's median gets a distribution-free confidence interval (sign test,
order statistics: a stall of the machine moves one round, not the interval). The interval is
looked at after ``min_rounds`` and then each time the round count doubles up to ``max_rounds``
(Bonferroni over the looks keeps the overall confidence however early it stops):

* interval wholly below ``1 + max_slowdown``  -> the quantized model ships, ``decided_by = "speed"``
* interval wholly above                       -> fp32 ships, ``decided_by = "speed"``
* still straddling at the round or time limit -> fp32 ships, ``decided_by = "tie-rule"``

Why ties ship fp32: fp32 is the reference every golden vector and parity check is stated
against and is always present; a quantized model that cannot be shown to be within the speed
budget has not earned its accuracy cost. The result: a forced re-measurement can turn a clear
decision into a tie, but never a clear win into a clear loss unless the machine really changed.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from edgepack.errors import ArtifactError

DECIDED_BY = ("config", "ops", "accuracy", "speed", "tie-rule")
TIE_PRECISION = "fp32"
STOPS = ("clear", "round limit", "time limit", "not measured")
# The measured numbers a record carries at its top level (from the deciding measurement).
NUMBERS = ("verdict", "rounds", "ratio", "ratio_interval", "medians_ms", "measured_on", "stopped_by", "measurements")


@dataclass(frozen=True)
class Policy:
    """How hard the speed gate looks before the tie rule decides."""

    max_slowdown: float = 0.05
    confidence: float = 0.99  # overall, across all looks
    min_rounds: int = 12  # at 99% over 4 looks, 12 rounds all on one side is the least that can decide
    max_rounds: int = 96
    max_seconds: float = 60.0

    def __post_init__(self):
        if not (self.max_slowdown >= 0 and 0 < self.confidence < 1 and 1 <= self.min_rounds <= self.max_rounds
                and self.max_seconds > 0):
            raise ValueError(f"invalid speed-gate policy: {self}")

    @property
    def threshold(self) -> float:
        return 1.0 + self.max_slowdown

    def looks(self) -> list[int]:
        """Round counts at which the interval is examined: min_rounds, doubling, then max_rounds."""
        out, n = [], self.min_rounds
        while n < self.max_rounds:
            out.append(n)
            n *= 2
        return out + [self.max_rounds]

    @property
    def alpha_per_look(self) -> float:
        return (1.0 - self.confidence) / len(self.looks())

    def rule(self, candidate: str = "int8") -> str:
        """The rule's text: fixed by the inputs (never by what was measured), so artifacts stay stable."""
        return (f"{candidate} ships when the {self.confidence:.0%} confidence interval (sign test, Bonferroni over "
                f"looks at {'/'.join(map(str, self.looks()))} interleaved rounds, at most {self.max_seconds:g} s) of "
                f"the median per-round time ratio {candidate}/fp32 lies wholly below 1 + max_slowdown = "
                f"{self.threshold:g}; fp32 ships when it lies wholly above; an interval still straddling "
                f"{self.threshold:g} ships fp32 (tie rule: fp32 is the reference)")


def median_interval(ratios: Sequence[float], alpha: float) -> tuple[float, float] | None:
    """Distribution-free (sign test) two-sided 1-alpha interval for the median, or None when
    ``len(ratios)`` is too small for any interval at that level."""
    n = len(ratios)
    s = sorted(ratios)
    # Largest k with 2 * P(Binom(n, 1/2) <= k-1) <= alpha: [s[k-1], s[n-k]] covers the median.
    k, tail = 0, 0.0
    while k < n // 2:
        nxt = tail + math.comb(n, k) / 2.0 ** n
        if 2 * nxt > alpha:
            break
        tail, k = nxt, k + 1
    return (s[k - 1], s[n - k]) if k >= 1 else None


@dataclass(frozen=True)
class Measurement:
    """Paired interleaved rounds, fp32 vs candidate, and what the gate concluded from them."""

    fp32_ms: tuple[float, ...]  # per round: ms per call
    candidate_ms: tuple[float, ...]
    verdict: str  # "faster" | "slower" | "undecided"
    stopped_by: str  # one of STOPS
    interval: tuple[float, float] | None
    measured_on: str
    details: dict = field(default_factory=dict)  # threads, isolation, texts per round...

    @property
    def rounds(self) -> int:
        return len(self.fp32_ms)

    @property
    def ratios(self) -> list[float]:
        return _ratios(zip(self.fp32_ms, self.candidate_ms))

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    def as_dict(self, candidate: str = "int8") -> dict[str, Any]:
        med = lambda v: round(statistics.median(v), 6) if v else None  # noqa: E731
        return {"verdict": self.verdict, "stopped_by": self.stopped_by, "rounds": self.rounds,
                "ratio": None if self.ratio is None else round(self.ratio, 4),
                "ratio_interval": None if self.interval is None else [round(v, 4) for v in self.interval],
                "medians_ms": {"fp32": med(self.fp32_ms), candidate: med(self.candidate_ms)},
                "measured_on": self.measured_on, **self.details,
                "rounds_ms": {"fp32": [round(v, 6) for v in self.fp32_ms],
                              candidate: [round(v, 6) for v in self.candidate_ms]}}


def _ratios(pairs) -> list[float]:
    """Paired ratios; a round with a zero, negative or non-finite reading says nothing and is dropped."""
    return [c / f for f, c in pairs if f > 0 and c >= 0 and math.isfinite(f) and math.isfinite(c)]


def _verdict(pairs: Sequence[tuple[float, float]], policy: Policy) -> tuple[str, tuple[float, float] | None]:
    interval = median_interval(_ratios(pairs), policy.alpha_per_look)
    if interval is None:
        return "undecided", None
    if interval[1] < policy.threshold:
        return "faster", interval
    if interval[0] > policy.threshold:
        return "slower", interval
    return "undecided", interval


def measure(run_rounds: Callable[[int], Sequence[tuple[float, float]]], policy: Policy, measured_on: str,
            details: dict | None = None, clock: Callable[[], float] = time.monotonic) -> Measurement:
    """Run rounds until a look clears the threshold, or the round / time limit.

    ``run_rounds(k)`` times k more interleaved rounds and returns k pairs (fp32 ms, candidate ms);
    this is where a real session, a browser page or a test's noisy timer plugs in.
    """
    pairs: list[tuple[float, float]] = []
    start = clock()
    verdict, interval, stop = "undecided", None, "round limit"
    for look in policy.looks():
        got = list(run_rounds(look - len(pairs)))
        pairs += [(float(f), float(c)) for f, c in got]
        verdict, interval = _verdict(pairs, policy)
        if verdict != "undecided":
            stop = "clear"
            break
        if clock() - start > policy.max_seconds and look != policy.max_rounds:
            stop = "time limit"
            break
    return Measurement(tuple(f for f, _ in pairs), tuple(c for _, c in pairs), verdict, stop, interval,
                       measured_on, dict(details or {}))


def from_rounds(fp32_ms: Sequence[float], candidate_ms: Sequence[float], policy: Policy, measured_on: str,
                details: dict | None = None, stopped_by: str | None = None) -> Measurement:
    """The same looks applied to rounds measured up front (Node's one-shot probe): stop at the first
    look that clears, exactly as :func:`measure` would have; rounds past it are not used."""
    pairs = list(zip(fp32_ms, candidate_ms))
    if not pairs:
        return Measurement((), (), "undecided", stopped_by or "not measured", None, measured_on, dict(details or {}))
    it = iter(pairs)
    m = measure(lambda k: [p for _, p in zip(range(k), it)], policy, measured_on, details)
    if m.verdict == "undecided" and len(pairs) < policy.max_rounds:  # the probe ran out of time first
        m = replace(m, stopped_by=stopped_by or "time limit")
    return m


@dataclass(frozen=True)
class Decision:
    """One target's precision and why. ``as_dict`` is what manifests carry."""

    target: str
    precision: str
    decided_by: str
    rule: str
    candidate: str = "int8"
    threshold: float | None = None
    note: str = ""
    measurements: tuple[Measurement, ...] = ()
    recorded: dict | None = None  # the numbers as read back by from_dict (copied, never re-measured)

    def __post_init__(self):
        if self.decided_by not in DECIDED_BY:
            raise ValueError(f"decided_by {self.decided_by!r}: must be one of {DECIDED_BY}")

    @property
    def reason(self) -> str:
        if self.recorded and isinstance(self.recorded.get("reason"), str):
            return self.recorded["reason"]  # as recorded: builders copy, never re-word
        if self.decided_by != "speed" and self.decided_by != "tie-rule":
            return self.note
        m = self.deciding()
        nums = self.recorded if m is None else m.as_dict(self.candidate)
        if not nums or not nums.get("rounds"):
            return f"{self.precision}: {self.note or 'not measured'} (tie rule: undecided ships fp32)"
        lo_hi = nums.get("ratio_interval")
        ci = f"[{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]" if lo_hi else "(too few rounds for an interval)"
        how = {"faster": f"clearly within 1 + max_slowdown = {self.threshold:g}",
               "slower": f"clearly beyond 1 + max_slowdown = {self.threshold:g}"}.get(
            nums.get("verdict"), f"undecided after {nums['stopped_by']}: tie rule ships fp32")
        text = (f"{self.candidate}/fp32 time ratio {nums['ratio']:.3f}, interval {ci} over {nums['rounds']} rounds "
                f"on {nums['measured_on']}: {how}")
        return text + (f"; {self.note}" if self.note else "")

    def deciding(self) -> Measurement | None:
        """The measurement the decision rests on: the configuration where the candidate fares worst."""
        measured = [m for m in self.measurements if m.ratio is not None]
        return max(measured, key=lambda m: m.ratio) if measured else None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"precision": self.precision, "decided_by": self.decided_by, "rule": self.rule,
                               "reason": self.reason, "candidate": self.candidate, "threshold": self.threshold}
        m = self.deciding()
        if m is not None:
            d = m.as_dict(self.candidate)
            out.update({k: d[k] for k in NUMBERS if k != "measurements"})
            out["measurements"] = [x.as_dict(self.candidate) for x in self.measurements]
        elif self.recorded:
            out.update({k: v for k, v in self.recorded.items() if k != "reason"})
        if self.note and self.decided_by in ("speed", "tie-rule"):
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, target: str, data: Any, where: str = "manifest.json") -> "Decision":
        """Read a recorded decision back; an entry that is not one raises ArtifactError naming the key."""
        key = f"{where}: targets.{target}"
        if not isinstance(data, dict):
            raise ArtifactError(f"{key}: expected a decision record (an object), got {type(data).__name__}; "
                                "re-run `edgepack quantize`")
        problems = []
        if data.get("decided_by") not in DECIDED_BY:
            problems.append(f"decided_by {data.get('decided_by')!r} is not one of {', '.join(DECIDED_BY)}")
        for k in ("precision", "rule", "candidate"):
            if not isinstance(data.get(k), str) or not data.get(k):
                problems.append(f"{k} missing or not a string")
        if data.get("threshold") is not None and not isinstance(data.get("threshold"), (int, float)):
            problems.append("threshold is not a number")
        if problems:
            raise ArtifactError(f"{key}: not a decision record ({'; '.join(problems)}); re-run `edgepack quantize`")
        numbers = {k: data[k] for k in NUMBERS + ("reason",) if k in data}
        note = data.get("reason", "") if data["decided_by"] not in ("speed", "tie-rule") else data.get("note", "")
        return cls(target, data["precision"], data["decided_by"], data["rule"], data["candidate"],
                   data.get("threshold"), note=note, recorded=numbers or None)


# ---------------------------------------------------------------- the decisions
def fixed(target: str, precision: str, decided_by: str, why: str, candidate: str = "int8") -> Decision:
    """A decision no measurement enters: set in edgepack.toml, ops the target lacks, the accuracy gate."""
    rules = {"config": "the precision set in edgepack.toml ([targets] <target> precision) ships as given",
             "ops": f"a target that cannot run every op of the {candidate} model ships fp32",
             "accuracy": f"a {candidate} model that did not pass the accuracy gate is never shipped"}
    return Decision(target, precision, decided_by, rules[decided_by], candidate, note=why)


def by_speed(target: str, measurements: Sequence[Measurement], policy: Policy, candidate: str = "int8",
             note: str = "") -> Decision:
    """Every configuration must clear the threshold for the candidate to ship; any clear loss ships
    fp32; anything else (including nothing measured) is a tie."""
    verdicts = [m.verdict for m in measurements]
    if verdicts and all(v == "faster" for v in verdicts):
        precision, by = candidate, "speed"
    elif "slower" in verdicts:
        precision, by = "fp32", "speed"
    else:
        precision, by = TIE_PRECISION, "tie-rule"
    return Decision(target, precision, by, policy.rule(candidate), candidate, policy.threshold, note,
                    tuple(measurements))


# ---------------------------------------------------------------- what the builders read
def for_target(manifest, target: str, precision: str | None = None, measured: dict | None = None,
               max_slowdown: float = 0.05) -> tuple[str, dict | None]:
    """The precision a target's builder ships and the decision record to merge into its manifest
    (None: the record in ``manifest.data["targets"][target]`` stands and is copied as is).

    Never measures: `edgepack quantize` decided once per inputs fingerprint. ``precision``: a
    caller's explicit choice (recorded as ``decided_by = "config"``); None or "auto" reads the
    record. ``measured``: {"fp32_ms": [...], "int8_ms": [...]} rounds given by a caller, decided
    by the same rule (a single pair is one round: too few for an interval, so the tie rule).

    The lookup itself (recorded precision, else the default; refused when the artifact lacks that
    model) is the runtime's one reader, ``Manifest.target_precision``: this function decides what
    to pass it and validates the record, it never reads ``precision`` out of the record itself.
    """
    chosen, record = _choose(manifest, target, precision, measured, max_slowdown)
    return manifest.target_precision(target, override=chosen), record


def _choose(manifest, target, precision, measured, max_slowdown) -> tuple[str | None, dict | None]:
    """(an override for the reader or None, a new record or None)."""
    data = manifest.data
    have = set(manifest.precisions)
    if precision not in (None, "auto"):
        return precision, fixed(target, precision, "config", f"given to the build (precision={precision!r})").as_dict()
    if not {"fp32", "int8"} <= have:
        return None, None  # nothing to choose between: the default precision
    if not ((data.get("parity") or {}).get("int8") or {}).get("ok", True):
        return "fp32", fixed(target, "fp32", "accuracy", "int8 did not pass the accuracy gate").as_dict()
    if measured is not None:
        as_list = lambda v: list(v) if isinstance(v, (list, tuple)) else [v]  # noqa: E731
        policy = Policy(max_slowdown=max_slowdown)
        m = from_rounds(as_list(measured["fp32_ms"]), as_list(measured["int8_ms"]), policy,
                        str(measured.get("measured_with", "numbers given by the caller")))
        d = by_speed(target, [m], policy)
        return d.precision, d.as_dict()
    recorded = (data.get("targets") or {}).get(target)
    if recorded is None:
        d = Decision(target, TIE_PRECISION, "tie-rule", Policy(max_slowdown=max_slowdown).rule(), "int8",
                     1 + max_slowdown, "no decision recorded by `edgepack quantize` for this target")
        return d.precision, d.as_dict()
    where = str(manifest.root / "manifest.json") if getattr(manifest, "root", None) else "manifest.json"
    Decision.from_dict(target, recorded, where)  # a record that is not one is refused, naming the key
    return None, None  # the reader takes the recorded precision
