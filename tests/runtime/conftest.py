"""Tiny artifacts for the runtime's own tests, made with onnx.helper (no torch): a good classifier,
a good embedder, and models whose outputs do not fit their task (each a way to answer wrongly)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.web.tiny_artifact import build_tiny_artifact


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


@pytest.fixture(scope="session")
def classifier(tmp_path_factory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("rt-clf") / "build", with_int8=False)


@pytest.fixture(scope="session")
def embedder(tmp_path_factory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("rt-emb") / "build", with_int8=False, task="feature-extraction")


@pytest.fixture(scope="session")
def misfits(tmp_path_factory) -> dict[str, Path]:
    """{case: artifact} whose model cannot answer the manifest's task."""
    base = tmp_path_factory.mktemp("rt-misfit")
    make = lambda name, **kw: build_tiny_artifact(base / name, with_int8=False, **kw)  # noqa: E731
    return {
        "logits-output": remake(make("logits-output"), drop_softmax),
        "logits-named-probabilities": remake(make("logits-named-probabilities"),
                                             lambda g: drop_softmax(g, "probabilities")),
        "fewer-labels": remake(make("fewer-labels"), labels=["negative", "positive"]),
        "classifier-as-embedder": remake(make("classifier-as-embedder"), task="feature-extraction"),
        "unknown-task": remake(make("unknown-task"), task="token-classification"),
    }
