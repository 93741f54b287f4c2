"""The committed Hugging Face-format samples export with parity and match their reference libraries."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np

from edgepack.project import load_project, read_labelled_file
from edgepack.runtime.pipeline import Pipeline

REPO = Path(__file__).resolve().parents[2]


def _export(tmp_path_factory, name):
    """A private copy of samples/<name> (and the sentiment corpus its evaluation file points to), exported."""
    from edgepack.export import export_project

    dest = tmp_path_factory.mktemp(name)
    shutil.copytree(REPO / "samples" / name, dest / name, ignore=shutil.ignore_patterns("build", "dist"))
    shutil.copytree(REPO / "samples" / "sentiment", dest / "sentiment", ignore=shutil.ignore_patterns("build", "dist"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = export_project(dest / name)
    return dest / name, result


def _heldout(project_dir):
    project = load_project(project_dir)
    return read_labelled_file(project.file("../sentiment/heldout.tsv"), "heldout")


def test_minilm_embedder_sample(tmp_path_factory, sentence_transformer):
    from transformers import AutoTokenizer

    root, result = _export(tmp_path_factory, "minilm-embedder")
    assert result.parity.ok and result.manifest["model"]["max_length"] == 128
    rows = _heldout(root)
    texts = [t for t, _ in rows][:300] + ["a long text that is repeated " * 60]
    pipe = Pipeline.load(result.build_dir)
    ours = pipe(texts)["embeddings"]
    theirs = sentence_transformer(root / "model").encode(texts, convert_to_numpy=True, batch_size=64)
    assert (ours * theirs).sum(-1).min() >= 0.99999
    hf = AutoTokenizer.from_pretrained(str(root / "model"), local_files_only=True)
    want = hf(texts, padding=True, truncation=True, max_length=128, return_tensors="np", return_token_type_ids=True)
    feeds = pipe.encode(texts)
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(feeds[name], want[name])
    # The demo's promise: texts of the same tone are closer than texts of opposite tone.
    great, wonderful, terrible = pipe(["This movie was really great and amazing", "The film was wonderful, I loved it",
                                       "The service was terrible and the food was cold"])["embeddings"]
    assert great @ wonderful > great @ terrible + 0.3


def test_bert_classifier_sample(tmp_path_factory):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    root, result = _export(tmp_path_factory, "bert-classifier")
    assert result.parity.ok
    rows = _heldout(root)
    texts, gold = [t for t, _ in rows], [label for _, label in rows]
    pipe = Pipeline.load(result.build_dir)
    probs = pipe(texts)["probabilities"]
    labels = result.manifest["model"]["labels"]
    accuracy = np.mean([labels[i] == g for i, g in zip(probs.argmax(-1), gold)])
    assert accuracy >= 0.85
    tok = AutoTokenizer.from_pretrained(str(root / "model"), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(root / "model"), local_files_only=True).eval()
    with torch.inference_mode():
        enc = tok(texts[:200], padding=True, truncation=True, max_length=128, return_tensors="pt")
        want = torch.softmax(model(**enc).logits, -1).numpy()
    assert np.abs(probs[:200] - want).max() < 1e-5


def test_embedder_int8_passes_the_cosine_gate_and_fails_an_impossible_one(tmp_path_factory):
    """Per-channel INT8 of a BERT embedder behind the cosine gate; an impossible threshold writes nothing."""
    from edgepack.errors import QuantizationError
    from edgepack.quantize.stage import quantize_project

    root, result = _export(tmp_path_factory, "minilm-embedder")
    cfg = root / "edgepack.toml"
    original = cfg.read_text()
    cfg.write_text(original.replace("\n[evaluation]\n", "\n[quantization]\nmin_cosine = 0.999999999\n\n[evaluation]\n"))
    before = sorted(p.name for p in result.build_dir.iterdir())
    try:
        quantize_project(root)
    except QuantizationError as exc:
        assert "cosine" in str(exc)
    else:
        raise AssertionError("an impossible min_cosine must fail the gate")
    assert sorted(p.name for p in result.build_dir.iterdir()) == before  # nothing written
    cfg.write_text(original)
    quantize_project(root)
    import json

    manifest = json.loads((result.build_dir / "manifest.json").read_text())
    gate = manifest["quantization"]["gate"]["result"]
    assert gate["ok"] and gate["min_cosine"] >= 0.99 and gate["texts"] >= 500
    assert "int8" in manifest["precisions"]
    assert Pipeline.load(result.build_dir, precision="int8").self_test().ok
