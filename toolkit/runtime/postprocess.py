"""Around the model: what ``predict`` accepts, whether a model's outputs fit its task, and the one
result shape every runtime returns.

Softmax, pooling and normalisation are inside the graph; this module only checks and names. Plain
Python (numpy only inside ``cosine``), so the Pyodide page (web/pyodide_page/browser_pipeline.py)
shares it, and web/src/pipeline.mjs mirrors it rule for rule.

Result shape, per text (Python ``Pipeline.predict``, the JS pipeline, Pyodide, the Pi service)::

    text-classification   {"label": str, "score": float, "probabilities": {label: float, ...}}
    feature-extraction    {"embedding": [float, ...]}
"""

from __future__ import annotations

from edgepack.errors import ArtifactError, EdgepackError

# The output each task's results are read from (edgepack's export names them so).
TASK_OUTPUT = {"text-classification": "probabilities", "feature-extraction": "embeddings"}
# Softmax rows sum to 1; int8/fp16 graphs still run softmax in float, so this is generous.
PROBABILITY_SUM_TOLERANCE = 1e-3


class TextInputError(EdgepackError, TypeError):
    """``predict``/``__call__`` got something other than a str or a list of str (a usage error)."""

    exit_code = 2


def text_batch(texts, argument: str = "texts") -> tuple[list, bool]:
    """(items, single): a str is ONE text (never iterated as characters); a list or tuple is a batch
    whose items are str or (text, pair) 2-tuples/lists of str. Anything else -> TextInputError."""
    if isinstance(texts, str):
        return [texts], True
    if not isinstance(texts, (list, tuple)):
        raise TextInputError(
            f"{argument}: expected a str or a list of str, got {type(texts).__name__}"
            + (" (decode bytes first, e.g. data.decode('utf-8'))" if isinstance(texts, (bytes, bytearray)) else "")
        )
    for i, item in enumerate(texts):
        if isinstance(item, str):
            continue
        if (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
                and (item[1] is None or isinstance(item[1], str))):
            continue
        raise TextInputError(
            f"{argument}[{i}]: expected a str (or a (text, pair) tuple of str), got {type(item).__name__}")
    return list(texts), False


def check_outputs(task: str, outputs: dict, labels: list[str], where: str) -> str:
    """The output name the task's results come from; ArtifactError if the model cannot give them.

    ``outputs``: {name: shape}, shape a list of ints / symbolic names, or None when unknown.
    """
    want = TASK_OUTPUT.get(task)
    found = ", ".join(outputs) or "none"
    if want is None:
        raise ArtifactError(f"{where}: task {task!r} is not one this runtime serves "
                            f"({', '.join(TASK_OUTPUT)}); rebuild with a supported task")
    if want not in outputs:
        hint = (" (softmax in the graph); logits are not probabilities. Re-export with `edgepack export`: "
                "an ONNX source with output = \"logits\" gets softmax added"
                if task == "text-classification" else " (pooled, L2-normalised sentence vectors)")
        raise ArtifactError(f"{where}: task {task} needs a model output named {want!r}{hint}; "
                            f"the model's outputs are: {found}")
    shape = outputs[want]
    if shape is not None:
        if len(shape) != 2:
            raise ArtifactError(f"{where}: output {want!r} has shape {list(shape)}; task {task} needs "
                                "[batch, width] (one row per text); re-export the model")
        width = shape[-1]
        if task == "text-classification" and labels and isinstance(width, int) and width != len(labels):
            raise ArtifactError(f"{where}: output {want!r} has {width} columns but the manifest lists "
                                f"{len(labels)} labels ({', '.join(labels)}); fix labels in edgepack.toml and rebuild")
    return want


def check_golden_probabilities(golden: list[dict], output: str, where: str, labels: list[str] | None = None) -> None:
    """Classification golden outputs must be probability rows, one per label: a graph that returns
    logits under the name 'probabilities' (or a width the shape left symbolic) would otherwise pass
    its own self-test."""
    for i, g in enumerate(golden):
        for precision, outs in (g.get("outputs") or {}).items():
            row = outs.get(output) if isinstance(outs, dict) else None
            if not row:
                continue
            flat = row[0] if isinstance(row[0], list) else row
            if labels and len(flat) != len(labels):
                raise ArtifactError(
                    f"{where}: golden[{i}] {precision} {output!r} has {len(flat)} values but the manifest lists "
                    f"{len(labels)} labels ({', '.join(labels)}); fix labels in edgepack.toml and rebuild")
            total = sum(flat)
            if min(flat) < -PROBABILITY_SUM_TOLERANCE or not abs(total - 1.0) <= PROBABILITY_SUM_TOLERANCE:
                raise ArtifactError(
                    f"{where}: golden[{i}] {precision} {output!r} sums to {total:.4g} (min {min(flat):.4g}): "
                    "these are not probabilities (logits without softmax?); re-export the model")


def label_results(probabilities, labels: list[str]) -> list[dict]:
    """[{label, score, probabilities: {label: p}}] per row (arrays or lists), in label order."""
    # One .tolist() of the whole array (C speed, exact float32 -> float values) instead of a float()
    # per numpy scalar: at batch 32 that loop cost as much as tokenizing the batch.
    rows = probabilities.tolist() if hasattr(probabilities, "tolist") else [[float(p) for p in r] for r in probabilities]
    out = []
    for row in rows:
        if not row:
            raise ArtifactError("the model returned an empty probabilities row; re-export the model")
        if labels and len(row) != len(labels):
            raise ArtifactError(f"the model returned {len(row)} probabilities for {len(labels)} labels "
                                f"({', '.join(labels)}); fix labels in edgepack.toml and rebuild")
        keys = labels or [str(i) for i in range(len(row))]
        best = row.index(max(row))  # the first of equal maxima, like argmax
        out.append({"label": keys[best], "score": row[best], "probabilities": dict(zip(keys, row))})
    return out


def embedding_results(rows) -> list[dict]:
    """[{embedding: [floats]}] per row."""
    return [{"embedding": row.tolist() if hasattr(row, "tolist") else [float(x) for x in row]} for row in rows]


def cosine(a, b):
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    return (a * b).sum(-1) / np.maximum(na * nb, 1e-12)
