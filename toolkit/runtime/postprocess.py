"""Post-processing outside the graph: only naming results (softmax etc. are inside the graph).

Plain Python (numpy only inside ``cosine``), so Pyodide's runtime shares it.
"""

from __future__ import annotations


def label_results(probabilities, labels: list[str]) -> list[dict]:
    """[{label, score, probabilities: {label: p}}] per row (arrays or lists), in label order."""
    out = []
    for row in probabilities:
        row = [float(p) for p in row]
        best = max(range(len(row)), key=row.__getitem__)
        out.append({
            "label": labels[best] if labels else str(best),
            "score": float(row[best]),
            "probabilities": {(labels[i] if labels else str(i)): float(p) for i, p in enumerate(row)},
        })
    return out


def cosine(a, b):
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    return (a * b).sum(-1) / np.maximum(na * nb, 1e-12)
