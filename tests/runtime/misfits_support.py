"""Artifacts whose model cannot answer the manifest's task -- each a way to give wrong answers quietly.

Made from tests/web/tiny_artifact_support.py with onnx.helper edits (no torch); shared by tests/runtime (the
Python runtime refuses them at load) and tests/web (the page shows an error, never a green self-test).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.web.tiny_artifact_support import make_tiny_artifact

# case -> what the refusal says (Python and JS word it the same).
MISFIT_MESSAGES = {
    "logits-output": "needs a model output named 'probabilities'",
    "logits-named-probabilities": "these are not probabilities",
    "fewer-labels": "has 3 columns but the manifest lists 2 labels (negative, positive)",
    "classifier-as-embedder": "needs a model output named 'embeddings'",
    "unknown-task": "'token-classification' is not one this runtime serves",
}


def remake(root: Path, edit_model=None, task: str | None = None, labels: list[str] | None = None) -> Path:
    """Rewrite ``root``'s model with ``edit_model(graph)`` and its manifest (outputs, golden vectors
    recomputed by ONNX Runtime on the edited model, task, labels), as an export would have written it."""
    import onnx

    from edgepack.manifest_writer import write_manifest
    from edgepack.runtime.session import create_session

    model_path = root / "model.fp32.onnx"
    if edit_model is not None:
        model = onnx.load(str(model_path))
        edit_model(model.graph)
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, str(model_path))
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    session = create_session(model_path)
    names = [o.name for o in session.get_outputs()]
    manifest["outputs"] = [{"name": o.name, "dtype": "float32", "shape": list(o.shape)} for o in session.get_outputs()]
    for g in manifest["golden"]:
        feeds = {"input_ids": np.array([g["input_ids"]], dtype=np.int64),
                 "attention_mask": np.array([g["attention_mask"]], dtype=np.int64)}
        got = session.run(names, feeds)
        g["outputs"] = {"fp32": {n: np.asarray(v[0], dtype=np.float64).round(9).tolist() for n, v in zip(names, got)}}
    if task is not None:
        manifest["model"]["task"] = task
    if labels is not None:
        manifest["model"]["labels"] = labels
    manifest.pop("files", None)
    write_manifest(root, manifest)
    return root


def drop_softmax(graph, rename_to: str = "logits"):
    """The classifier without its Softmax: the graph returns logits, named ``rename_to``."""
    softmax = next(n for n in graph.node if n.op_type == "Softmax")
    graph.node.remove(softmax)
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == "logits":
                node.output[i] = rename_to
    graph.output[0].name = rename_to


def make_misfits(base: Path, cases=tuple(MISFIT_MESSAGES)) -> dict[str, Path]:
    recipes = {
        "logits-output": dict(edit_model=drop_softmax),
        "logits-named-probabilities": dict(edit_model=lambda g: drop_softmax(g, "probabilities")),
        "fewer-labels": dict(labels=["negative", "positive"]),
        "classifier-as-embedder": dict(task="feature-extraction"),
        "unknown-task": dict(task="token-classification"),
    }
    return {case: remake(make_tiny_artifact(base / case, with_int8=False), **recipes[case]) for case in cases}
