"""Recovery when plain INT8 fails the gate: a ladder of recipes, cheapest first, stopping at the first pass.

Every candidate is judged on the *selection* split; one that passes there is then judged on the
disjoint *held-out* split, and only a held-out pass is accepted (evalset.split says why). Rungs:

1. weights per-tensor vs per-channel -- both measured; per-channel is kept when it passes where
   per-tensor does not, or is >10% closer to fp32 (it costs a scale per channel and, on some
   kernels, speed).
2. ``reduce_range`` (7-bit weights: no u8s8 overflow on non-VNNI x86 kernels).
3. SmoothQuant, then dynamic INT8 (smooth.py): per-input-channel factors, from one fp32 pass over the
   calibration texts, move activation outliers into the weights (exact in fp32), so dynamic INT8's
   one activation scale per tensor fits the rest; alpha 0.8 on the inputs with outlier channels
   only, pads fed a real token, then on every input, pad rows zeroed (smooth.RUNGS; MatMul graphs
   without recurrent ops, dynamic mode). Same kernels as dynamic INT8 (+ one elementwise Mul per
   smoothed input not folded into V): on all-MiniLM-L6-v2 it meets min cosine 0.99 at plain dynamic
   INT8's size and within a few % of its speed.
4. blockwise INT8 for MatMul (weightonly.py: MatMulNBits bits = 8, int8 compute with activations
   quantized per block of 32) + int8 Gather -- one try; as accurate, but its kernel was ~2x slower
   than MatMulInteger at batch 32 on this machine (MatMul graphs only).
5. exclude only the most sensitive nodes: the one-pass ranking (sensitivity.py), then a binary
   search on how many of the top nodes stay fp32 (log2(n) quantize + gate runs, not n).
6. static QDQ with MinMax calibration on the selection texts (encoders: MatMul graphs without
   recurrent ops, when dynamic was the starting mode).
7. int8 weights, fp32 activations (MatMulNBits, bits = 8, weight-only): the most accurate and the
   least fast. Targets lacking MatMulNBits are caught by the op tables and the wasm probe.

Every candidate tried is a row of the trade-off table (accuracy on both splits, file bytes,
ms per text measured during the selection gate on this machine), printed by `quantize` and kept in
the manifest (quantization.recovery).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable


from edgepack.progress import QUIET, Progress
from edgepack.quantize import dynamic, smooth, static, weightonly
from edgepack.quantize.evalset import Split
from edgepack.quantize.gate import (GateResult, Thresholds, evaluate, run_all, run_padded, run_reference,
                                    served_in_batches)
from edgepack.quantize.sensitivity import Ranking, rank
from edgepack.runtime.session import create_session

QUANTIZERS: dict[str, Callable[..., dict]] = {"dynamic": dynamic.quantize, "static": static.quantize,
                                              "smooth": smooth.quantize, "blockwise": weightonly.blockwise,
                                              "weight-only": weightonly.weight_only}
RECURRENT = ("LSTM", "GRU", "RNN")


@dataclass(frozen=True)
class Recipe:
    step: str
    mode: str
    per_channel: bool
    reduce_range: bool = False
    exclude: tuple[str, ...] = ()
    alpha: float = 0.0  # SmoothQuant migration strength (mode "smooth" only)
    variant: str = ""  # which inputs are smoothed and how pads are kept out of the scale (smooth.VARIANTS)

    @property
    def label(self) -> str:
        parts = [self.mode] if self.mode in ("blockwise", "weight-only") else \
            [f"smoothed (alpha {self.alpha}, {self.variant}) dynamic" if self.mode == "smooth" else self.mode,
             "per-channel" if self.per_channel else "per-tensor"]
        if self.reduce_range:
            parts.append("reduce_range")
        if self.exclude:
            parts.append(f"{len(self.exclude)} node(s) fp32")
        return " ".join(parts)


@dataclass
class Trial:
    recipe: Recipe
    path: Path
    info: dict
    selection: GateResult
    heldout: GateResult | None
    file_bytes: int
    ms_per_text: float

    @property
    def accepted(self) -> bool:
        return self.selection.ok and self.heldout is not None and self.heldout.ok

    def row(self) -> dict:
        return {"step": self.recipe.step, "recipe": self.recipe.label, "file_bytes": self.file_bytes,
                "ms_per_text": round(self.ms_per_text, 4), "selection": self.selection.as_dict(),
                "heldout": self.heldout.as_dict() if self.heldout else None, "accepted": self.accepted}


@dataclass
class Ladder:
    """Shared state of one recovery: the pre-processed graph, the split and its fp32 references."""
    task: str
    fp32: Path  # the reference outputs come from the exported model itself
    pre: Path
    split: Split
    limits: Thresholds
    scratch: Path
    forced_exclude: tuple[str, ...] = ()
    calibration: list | None = None
    calibration_source: str = ""
    progress: Progress = QUIET
    reference: dict = field(default_factory=dict)  # split part -> fp32 outputs
    reference_padded: dict = field(default_factory=dict)  # split part -> fp32 outputs served in padded batches
    trials: list[Trial] = field(default_factory=list)
    ranking: Ranking | None = None

    def __post_init__(self):
        if not self.calibration:  # static rungs calibrate on selection texts, never held-out ones
            self.calibration = list(self.split.selection.feeds)
            self.calibration_source = self.calibration_source or f"{len(self.calibration)} selection texts"
        fp32 = create_session(self.fp32)
        for part in ("selection", "heldout"):
            self.reference[part] = run_reference(fp32, getattr(self.split, part))
            self.reference_padded[part] = run_padded(fp32, getattr(self.split, part))

    def gate(self, path: Path, part: str, label: str) -> tuple[GateResult, float]:
        evalset = getattr(self.split, part)
        with self.progress.task(f"gate ({part}): {label}", len(evalset)) as tick:
            session = create_session(path)
            out, ms = run_all(session, evalset, tick)
        alone = evaluate(self.task, self.reference[part], out, evalset.labels, self.limits)
        padded = run_padded(session, evalset) if self.reference_padded.get(part) is not None else None
        batched = None if padded is None else evaluate(self.task, self.reference_padded[part], padded,
                                                       evalset.labels, self.limits)
        return served_in_batches(alone, batched), ms

    def attempt(self, recipe: Recipe, judge: bool = True) -> Trial:
        """Quantize by ``recipe`` and gate it on the selection split; ``judge``: then on held-out if it passed."""
        path = self.scratch / f"candidate-{len(self.trials)}.onnx"
        info = QUANTIZERS[recipe.mode](self.pre, path, per_channel=recipe.per_channel,
                                       reduce_range=recipe.reduce_range,
                                       exclude=list(self.forced_exclude) + list(recipe.exclude),
                                       calibration=self.calibration,
                                       **({"alpha": recipe.alpha, "variant": recipe.variant}
                                          if recipe.mode == "smooth" else {}))
        selection, ms = self.gate(path, "selection", recipe.label)
        trial = Trial(recipe, path, info, selection, None, path.stat().st_size, ms)
        self.trials.append(trial)
        if judge:
            self.judge(trial)
        else:
            self.progress.say(f"  [{recipe.step}] {recipe.label}: selection {selection.lines()[0][2:]}")
        return trial

    def judge(self, trial: Trial) -> Trial:
        """The held-out gate, for a trial that passed on the selection split."""
        if trial.selection.ok and trial.heldout is None:
            trial.heldout = self.gate(trial.path, "heldout", trial.recipe.label)[0]
        verdict = "✓ accepted" if trial.accepted else ("✗ held-out" if trial.selection.ok else "✗")
        self.progress.say(f"  [{trial.recipe.step}] {trial.recipe.label}: selection {trial.selection.lines()[0][2:]}"
                          + (f" | held-out {trial.heldout.lines()[0][2:]}" if trial.heldout else "") + f" -> {verdict}")
        return trial


def _per_channel_rung(ladder: Ladder, mode: str, fixed: bool | None) -> tuple[Trial, dict]:
    if fixed is not None:
        t = ladder.attempt(Recipe("1 weights", mode, fixed))
        return t, {"chosen": "per-channel" if fixed else "per-tensor", "reason": "set in edgepack.toml / CLI"}
    pt = ladder.attempt(Recipe("1 weights", mode, False))
    pc = ladder.attempt(Recipe("1 weights", mode, True))
    a, b = pc.selection, pt.selection
    better = (pc.accepted and not pt.accepted) or (pc.accepted == pt.accepted and a.harm < b.harm * 0.9)
    choice = {"chosen": "per-channel" if better else "per-tensor",
              "reason": (f"per-channel was closer to fp32 by more than 10% on the selection split (harm "
                         f"{a.harm:.3e} vs {b.harm:.3e})" if better else
                         f"per-channel did not help by 10% on the selection split (harm {a.harm:.3e} vs "
                         f"per-tensor {b.harm:.3e})"),
              "per_tensor": b.as_dict(), "per_channel": a.as_dict()}
    return (pc if better else pt), choice


def _exclusion_rung(ladder: Ladder, base: Trial, fp32_model, quantized: list[str]) -> Trial | None:
    import onnx

    ladder.ranking = rank(fp32_model, onnx.load(str(base.path)), quantized, ladder.split.selection.feeds,
                          ladder.scratch, ladder.progress)
    order = ladder.ranking.nodes
    if len(order) < 2:
        return None
    tried: dict[int, Trial] = {}

    def passes(k: int) -> bool:
        if k not in tried:
            tried[k] = ladder.attempt(replace(base.recipe, step="5 exclude sensitive", exclude=tuple(order[:k])),
                                      judge=False)
        return tried[k].selection.ok

    lo, hi = 1, len(order) - 1
    if not passes(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid + 1
    passes(lo)
    return ladder.judge(tried[lo])  # only the smallest passing exclusion meets the held-out texts


def recover(ladder: Ladder, mode: str, per_channel: bool | None, fp32_model,
            quantized_nodes: Callable[[Path], list[str]], op_counts: dict) -> tuple[Trial | None, dict]:
    """Climb the ladder; return (accepted trial or None, per-channel choice record)."""
    best, choice = _per_channel_rung(ladder, mode, per_channel)
    if best.accepted:
        return best, choice
    base = best.recipe
    has_matmul = op_counts.get("MatMul", 0) > 0
    encoder = has_matmul and not any(op_counts.get(op) for op in RECURRENT)
    # The rungs in cost order, each tried only if the ones before failed (the exclusion rung
    # returns None when there is nothing to exclude).
    rungs = [lambda: ladder.attempt(replace(base, step="2 reduce_range", reduce_range=True))]
    if mode == "dynamic" and encoder:  # per-channel unless the project fixed per-tensor (smoothing grows weight rows)
        rungs += [lambda a=alpha, v=variant: ladder.attempt(Recipe("3 smoothed", "smooth", per_channel is not False,
                                                                   alpha=a, variant=v))
                  for alpha, variant in smooth.RUNGS]
    if has_matmul:
        rungs.append(lambda: ladder.attempt(Recipe("4 blockwise int8", "blockwise", False)))
    rungs.append(lambda: _exclusion_rung(ladder, best, fp32_model, quantized_nodes(best.path)))
    if mode == "dynamic" and encoder:
        rungs.append(lambda: ladder.attempt(Recipe("6 static QDQ", "static", base.per_channel)))
    if has_matmul:
        rungs.append(lambda: ladder.attempt(Recipe("7 int8 weights only", "weight-only", False)))
    for rung in rungs:
        t = rung()
        if t is not None and t.accepted:
            return t, choice
    return None, choice


def table_lines(rows: list[dict]) -> list[str]:
    """The trade-off table from ``Trial.row()`` dicts (the manifest's quantization.recovery.table)."""
    def metric(g: dict | None) -> str:
        if g is None:
            return "-"
        if "agreement" in g:
            return f"agree {g['agreement']:.3f} Δp {g['max_prob_delta']:.1e}"
        return f"cos min {g['min_cosine']:.4f} mean {g['mean_cosine']:.4f}"

    lines = [f"{'step':<20} {'recipe':<40} {'selection':<27} {'held-out':<27} {'MB':>6} {'ms/text':>8}  verdict"]
    for r in rows:
        verdict = ("accepted" if r["accepted"] else "fails held-out" if r["heldout"] else
                   "passes selection (search step)" if r["selection"]["ok"] else "fails")
        lines.append(f"{r['step']:<20} {r['recipe']:<40} {metric(r['selection']):<27} {metric(r['heldout']):<27} "
                     f"{r['file_bytes'] / 1e6:>6.2f} {r['ms_per_text']:>8.3f}  {verdict}")
    return lines
