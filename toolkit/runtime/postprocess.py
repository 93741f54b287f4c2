"""Post-processing outside the graph: only naming results (softmax etc. are inside the graph)."""

from __future__ import annotations

import numpy as np


def label_results(probabilities: np.ndarray, labels: list[str]) -> list[dict]:
    """[{label, score, probabilities: {label: p}}] per row, probabilities in label order."""
    out = []
    for row in np.asarray(probabilities, dtype=np.float64):
        best = int(row.argmax())
        out.append({
            "label": labels[best] if labels else str(best),
            "score": float(row[best]),
            "probabilities": {(labels[i] if labels else str(i)): float(p) for i, p in enumerate(row)},
        })
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    return (a * b).sum(-1) / np.maximum(na * nb, 1e-12)
