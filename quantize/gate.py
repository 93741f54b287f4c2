"""The accuracy gate: the quantized model against fp32 on the evaluation set.

Classification: top-1 agreement, max and mean |Δprob|, accuracy against labels (when the
evaluation file has them). Embeddings: min and mean cosine to fp32. Thresholds come from
``[quantization]`` in edgepack.toml (defaults below); a failing gate lists every failed check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from edgepack.errors import ProjectError
from edgepack.project import Project
from edgepack.quantize.evalset import EvalSet

# Defaults, chosen to be met by every zoo sample's dynamic / static INT8 model with margin (the
# measured numbers are in the manifest's quantization.gate) while catching a model whose answers
# moved: 1 disagreement per 100 texts, 1 point of accuracy, cosine 0.99 (per-tensor INT8 of a
# BERT-style encoder measured ~0.95 here, per-channel ~0.99: the threshold separates the two).
DEFAULTS = {"min_agreement": 0.99, "max_accuracy_drop": 0.01, "max_prob_delta": None, "min_cosine": 0.99}


@dataclass
class Thresholds:
    min_agreement: float
    max_accuracy_drop: float
    max_prob_delta: float | None
    min_cosine: float

    @classmethod
    def from_project(cls, project: Project) -> "Thresholds":
        cfg = project.section("quantization")
        values = {k: cfg.get(k, v) for k, v in DEFAULTS.items()}
        problems = [f"[quantization] {k} = {values[k]!r}: must be between 0 and 1"
                    for k in ("min_agreement", "max_accuracy_drop", "min_cosine") if not 0 <= float(values[k]) <= 1]
        if values["max_prob_delta"] is not None and not 0 <= float(values["max_prob_delta"]) <= 1:
            problems.append(f"[quantization] max_prob_delta = {values['max_prob_delta']!r}: must be between 0 and 1")
        if problems:
            raise ProjectError(f"{project.path}: " + "; ".join(problems))
        return cls(**{k: (None if v is None else float(v)) for k, v in values.items()})

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class GateResult:
    task: str
    metrics: dict[str, float]
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def harm(self) -> float:
        """One number to rank candidates by: lower is closer to fp32."""
        if self.task == "text-classification":
            return self.metrics["mean_prob_delta"] + (1 - self.metrics["agreement"])
        return 1 - self.metrics["mean_cosine"]

    def as_dict(self) -> dict:
        def clean(k, v):
            return {kk: clean(kk, vv) for kk, vv in v.items()} if isinstance(v, dict) else int(v) if k == "texts" else round(v, 6)

        metrics = {k: clean(k, v) for k, v in self.metrics.items()}
        return {"ok": self.ok, **metrics, "failures": self.failures}

    def lines(self) -> list[str]:
        m = self.metrics
        if self.task == "text-classification":
            text = (f"agreement {m['agreement']:.2%}, max |Δprob| {m['max_prob_delta']:.2e}, "
                    f"mean |Δprob| {m['mean_prob_delta']:.2e}")
            if "accuracy_fp32" in m:
                text += f", accuracy {m['accuracy_fp32']:.2%} -> {m['accuracy_quantized']:.2%}"
        else:
            text = f"cosine to fp32 min {m['min_cosine']:.4f}, mean {m['mean_cosine']:.4f}"
        b = m.get("batched")
        if b:
            text += (f"; in padded batches of {SERVED_BATCH}: agreement {b['agreement']:.2%}, max |Δprob| "
                     f"{b['max_prob_delta']:.2e}" if "agreement" in b else
                     f"; in padded batches of {SERVED_BATCH}: min cosine {b['min_cosine']:.4f}")
        return [("✓ " if self.ok else "✗ ") + text] + [f"  ✗ {f}" for f in self.failures]


def run_all(session, evalset: EvalSet, tick=lambda n=1: None) -> tuple[np.ndarray, float]:
    """Run each text alone (as the runtimes serve); the stacked first-output rows and ms per text."""
    name = session.get_outputs()[0].name
    rows, start = [], time.perf_counter()
    for feeds in evalset.feeds:
        rows.append(session.run([name], feeds)[0][0])
        tick()
    ms = (time.perf_counter() - start) * 1000 / max(1, len(rows))
    return np.stack(rows).astype(np.float64), ms


def same_shape_batches(feeds_list: list[dict], batch: int = 64):
    """(indices, one batched feed) for runs of single-text feeds with identical shapes (no padding
    needed); a feed that is not one text is yielded alone, as it is."""
    groups: dict[tuple, list[int]] = {}
    for i, feeds in enumerate(feeds_list):
        groups.setdefault(tuple((k, v.shape, v.dtype.str) for k, v in sorted(feeds.items())), []).append(i)
    for members in groups.values():
        if any(v.shape[:1] != (1,) for v in feeds_list[members[0]].values()):
            for i in members:
                yield [i], feeds_list[i]
            continue
        for start in range(0, len(members), batch):
            chunk = members[start:start + batch]
            yield chunk, {k: np.concatenate([feeds_list[i][k] for i in chunk]) for k in feeds_list[chunk[0]]}


def _rows_in_order(session, chunks, n: int) -> np.ndarray:
    """The first output's rows of batched ``(indices, feeds)`` chunks, put back in text order."""
    name = session.get_outputs()[0].name
    rows: list = [None] * n
    for chunk, feeds in chunks:
        for i, row in zip(chunk, session.run([name], feeds)[0]):
            rows[i] = row
    return np.stack(rows).astype(np.float64)


SERVED_BATCH = 32  # the batch the Pi service and Pipeline.predict(list) form (edge.service.Limits.max_batch)


def padded_batches(evalset: EvalSet, batch: int = SERVED_BATCH):
    """(indices, feeds) for consecutive texts in batches of ``batch``, right-padded to the longest as
    every runtime pads them (runtime.encoder: ``pad_id`` for input_ids, 0 for the rest)."""
    for start in range(0, len(evalset.feeds), batch):
        chunk = list(range(start, min(start + batch, len(evalset.feeds))))
        width = max(next(iter(evalset.feeds[i].values())).shape[1] for i in chunk)
        feeds = {}
        for name in evalset.feeds[chunk[0]]:
            fill = evalset.pad_id if name == "input_ids" else 0
            feeds[name] = np.stack([np.pad(evalset.feeds[i][name][0], (0, width - evalset.feeds[i][name].shape[1]),
                                           constant_values=fill) for i in chunk])
        yield chunk, feeds


def run_padded(session, evalset: EvalSet, batch: int = SERVED_BATCH) -> np.ndarray | None:
    """First-output rows of ``evalset`` served in padded batches; None for a one-text-per-call graph."""
    # Token inputs only: every feed one text, [1, sequence] integers of one length per text.
    if fixed_batch(session) or not all(v.ndim == 2 and v.shape[0] == 1 and v.dtype.kind in "iu"
                                       and v.shape == next(iter(f.values())).shape
                                       for f in evalset.feeds for v in f.values()):
        return None
    return _rows_in_order(session, padded_batches(evalset, batch), len(evalset.feeds))


def served_in_batches(result: GateResult, batched: GateResult | None) -> GateResult:
    """``result`` (one text per call) that must also hold for the texts served in padded batches:
    dynamic INT8 takes one activation scale over a whole batch, so padding and neighbours change
    a text's answer; a recipe that passes alone but not as served is refused."""
    if batched is None:
        return result
    metrics = dict(result.metrics, batched={k: v for k, v in batched.metrics.items()})
    failures = result.failures + [f"served in padded batches of {SERVED_BATCH}: {f}" for f in batched.failures]
    return GateResult(result.task, metrics, failures)


def fixed_batch(session) -> bool:
    """True when an input's batch dimension is a number: such a graph takes one text per call only."""
    return any(i.shape and isinstance(i.shape[0], int) for i in session.get_inputs())


def run_reference(session, evalset: EvalSet, batch: int = 64) -> np.ndarray:
    """The fp32 reference rows, as ``run_all`` gives them, with texts of equal token length batched.

    fp32 math is row-independent and equal lengths need no padding, so a batch of same-shape feeds
    computes what one text per call computes (to float rounding: ~5e-8 on MiniLM, far under any
    gate); 2.5x faster on the 900-text evaluation sets. Quantized candidates are still run one text
    per call: dynamic INT8 takes one activation scale over the whole batch, so batching changes them."""
    if fixed_batch(session):
        return run_all(session, evalset)[0]
    return _rows_in_order(session, same_shape_batches(evalset.feeds, batch), len(evalset.feeds))


def evaluate(task: str, reference: np.ndarray, candidate: np.ndarray, labels: list[int] | None,
             limits: Thresholds) -> GateResult:
    if task == "text-classification":
        delta = np.abs(reference - candidate)
        agree = float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))
        metrics = {"agreement": agree, "max_prob_delta": float(delta.max()), "mean_prob_delta": float(delta.mean()),
                   "texts": float(len(reference))}
        failures = []
        if not agree >= limits.min_agreement:
            failures.append(f"top-1 agreement {agree:.2%} < min_agreement {limits.min_agreement:.2%}")
        if limits.max_prob_delta is not None and not metrics["max_prob_delta"] <= limits.max_prob_delta:
            failures.append(f"max |Δprob| {metrics['max_prob_delta']:.3e} > max_prob_delta {limits.max_prob_delta:.3e}")
        if labels is not None:
            gold = np.asarray(labels)
            metrics["accuracy_fp32"] = float(np.mean(reference.argmax(-1) == gold))
            metrics["accuracy_quantized"] = float(np.mean(candidate.argmax(-1) == gold))
            drop = metrics["accuracy_fp32"] - metrics["accuracy_quantized"]
            metrics["accuracy_drop"] = drop
            if drop > limits.max_accuracy_drop + 1e-12:
                failures.append(f"accuracy drop {drop:.2%} > max_accuracy_drop {limits.max_accuracy_drop:.2%}")
        return GateResult(task, metrics, failures)
    ref = reference.reshape(len(reference), -1)
    cand = candidate.reshape(len(candidate), -1)
    denom = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
    cos = np.sum(ref * cand, axis=1) / np.maximum(denom, 1e-12)
    metrics = {"min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()), "texts": float(len(ref))}
    failures = [] if metrics["min_cosine"] >= limits.min_cosine else [
        f"min cosine to fp32 {metrics['min_cosine']:.4f} < min_cosine {limits.min_cosine:.4f}"]
    return GateResult(task, metrics, failures)
