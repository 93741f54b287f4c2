"""Selective quantization: when the gate fails, keep the nodes whose quantization hurts most in fp32.

Harm of a node = how far from fp32 the model is when *only* that node is quantized (gate.harm on
the evaluation set). Nodes are then excluded in order of harm, re-quantizing and re-gating after
each, until the gate passes. Quantizing one node at a time costs one quantize + one evaluation per
node, which is seconds for the zoo's graphs (at most a few dozen quantizable nodes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgepack.quantize.gate import GateResult


@dataclass
class Fallback:
    excluded: list[str] = field(default_factory=list)
    ranking: list[dict] = field(default_factory=list)  # [{node, harm}] most harmful first
    steps: list[dict] = field(default_factory=list)  # [{excluded, gate}] after each exclusion

    def as_dict(self) -> dict:
        return {"nodes_kept_fp32": self.excluded, "ranking": self.ranking[:50], "steps": self.steps}


def select(candidates: list[str], quantize: Callable[..., dict], evaluate: Callable[[Path], GateResult],
           scratch: Path, forced: list[str], progress) -> tuple[Fallback, GateResult | None, Path | None]:
    """Return (fallback record, passing gate result or None, path of the passing model or None)."""
    record = Fallback()
    for i, node in enumerate(progress.bar(candidates, "ranking nodes by harm")):
        path = scratch / f"only-{i}.onnx"
        quantize(path, exclude=[], only=[node])
        record.ranking.append({"node": node, "harm": evaluate(path).harm})
        path.unlink(missing_ok=True)
    record.ranking.sort(key=lambda r: -r["harm"])
    for r in record.ranking:
        r["harm"] = round(r["harm"], 8)
    for k in range(1, len(record.ranking)):
        record.excluded = [r["node"] for r in record.ranking[:k]]
        path = scratch / f"fallback-{k}.onnx"
        quantize(path, exclude=forced + record.excluded, only=None)
        result = evaluate(path)
        record.steps.append({"nodes_kept_fp32": k, "gate": result.as_dict()})
        progress.say(f"  fallback: {k} node(s) kept fp32 -> " + result.lines()[0])
        if result.ok:
            return record, result, path
    return record, None, None
