"""Hugging Face-format encoders: export parity against PyTorch / transformers / sentence-transformers,
tokenizer ids equal to Hugging Face's, long inputs, exporter choice."""

from __future__ import annotations

import shutil

import warnings

import numpy as np
import pytest
from tests.hf.hf_tiny import TEXTS, write_project

from edgepack.runtime.pipeline import Pipeline


def cosine_rows(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_embedder_matches_sentence_transformers(bert_mean, sentence_transformer):
    project, folder, result = bert_mean
    assert result.parity.ok and result.parity.cases >= 64
    assert [i["name"] for i in result.manifest["inputs"]] == ["input_ids", "attention_mask", "token_type_ids"]
    assert result.manifest["outputs"][0]["name"] == "embeddings" and result.manifest["outputs"][0]["shape"][1] == 32
    pipe = Pipeline.load(result.build_dir)
    ours = pipe(TEXTS)["embeddings"]
    theirs = sentence_transformer(folder).encode(TEXTS, convert_to_numpy=True, batch_size=4)
    cos = cosine_rows(ours, theirs)
    assert cos.min() >= 0.99999, cos
    assert np.abs(ours - theirs).max() < 1e-5
    # L2-normalised in the graph: every runtime returns unit vectors.
    np.testing.assert_allclose(np.linalg.norm(ours, axis=-1), 1.0, atol=1e-6)
    rows = pipe.predict(TEXTS[:2])
    assert len(rows[0]["embedding"]) == 32
    assert pipe.require_self_test().ok


def test_batch_equals_single(bert_mean):
    """Right-padding must not change a row's embedding (the mask reaches attention and pooling)."""
    pipe = Pipeline.load(bert_mean[2].build_dir)
    batch = pipe(TEXTS)["embeddings"]
    single = np.concatenate([pipe([t])["embeddings"] for t in TEXTS])
    assert np.abs(batch - single).max() < 1e-5


def test_cls_pooling_legacy_format(bert_cls_legacy, sentence_transformer):
    project, folder, result = bert_cls_legacy
    ours = Pipeline.load(result.build_dir)(TEXTS)["embeddings"]
    st = sentence_transformer(folder)
    theirs = st.encode(TEXTS, convert_to_numpy=True)
    assert len(st) == 2  # Transformer + Pooling, no Normalize: edgepack normalises anyway, cosine is unchanged
    assert cosine_rows(ours, theirs).min() >= 0.99999
    # CLS and mean pooling give different vectors: the pooling really comes from the folder.
    mean_like = theirs / np.linalg.norm(theirs, axis=-1, keepdims=True)
    np.testing.assert_allclose(ours, mean_like, atol=1e-5)


def test_distilbert_embedder_has_no_token_type_ids(distilbert_mean, sentence_transformer):
    project, folder, result = distilbert_mean
    assert [i["name"] for i in result.manifest["inputs"]] == ["input_ids", "attention_mask"]
    ours = Pipeline.load(result.build_dir)(TEXTS)["embeddings"]
    theirs = sentence_transformer(folder).encode(TEXTS, convert_to_numpy=True)
    assert cosine_rows(ours, theirs).min() >= 0.99999


def _transformers_probs(folder, texts, max_length):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True).eval()
    enc = tok(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.inference_mode():
        return torch.softmax(model(**enc).logits, -1).numpy()


@pytest.mark.parametrize("fixture", ["bert_classifier", "roberta_classifier"])
def test_classifier_matches_transformers(fixture, request):
    project, folder, result = request.getfixturevalue(fixture)
    assert result.parity.ok and result.parity.check_argmax
    assert result.manifest["outputs"][0]["name"] == "probabilities"
    pipe = Pipeline.load(result.build_dir)
    ours = pipe(TEXTS)["probabilities"]
    theirs = _transformers_probs(folder, TEXTS, result.manifest["model"]["max_length"])
    assert np.abs(ours - theirs).max() < 1e-5
    assert (ours.argmax(-1) == theirs.argmax(-1)).all()
    np.testing.assert_allclose(ours.sum(-1), 1.0, atol=1e-5)  # softmax in the graph
    assert pipe.predict(["hello"])[0]["label"] in ("class_0", "class_1", "class_2")
    if fixture == "roberta_classifier":  # type_vocab_size 1: no token_type_ids; positions offset by pad + 1
        assert [i["name"] for i in result.manifest["inputs"]] == ["input_ids", "attention_mask"]
        assert result.manifest["model"]["max_length"] == 64 - 0 - 1


def test_tokenizer_ids_equal_hugging_face(bert_mean):
    """The folder's tokenizer.json through edgepack's pure-Python tokenizer == transformers' fast tokenizer."""
    from transformers import AutoTokenizer

    project, folder, result = bert_mean
    pipe = Pipeline.load(result.build_dir)
    hf = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    texts = TEXTS + ["Déjà vu?! Tokyo,Berlin;Paris", "\t tabs\nand newlines ", "中文字符 and ＦＵＬＬＷＩＤＴＨ"]
    feeds = pipe.encode(texts)
    want = hf(texts, padding=True, truncation=True, max_length=64, return_tensors="np", return_token_type_ids=True)
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(feeds[name], want[name])


def test_long_inputs_truncated_with_warning(tmp_path, bert_mean, sentence_transformer):
    """max_length beyond the position embeddings is capped (warning); long texts are truncated like
    sentence-transformers truncates them. (bert_mean's edgepack.toml asks for max_length 4096.)"""
    from edgepack.hf import HFLengthWarning, _warned
    from edgepack.project import load_project

    project, folder, result = bert_mean
    _warned.clear()  # warned once per project already, when the fixture exported it
    with pytest.warns(HFLengthWarning, match=r"max_length 4096 exceeds .*position embeddings.*capped to 64"):
        assert load_project(project).max_length == 64
    assert result.manifest["model"]["max_length"] == 64
    pipe = Pipeline.load(result.build_dir)
    long_text = "the quick brown fox jumps over the lazy dog " * 100
    assert pipe.encode([long_text])["input_ids"].shape == (1, 64)
    ours = pipe([long_text])["embeddings"]
    theirs = sentence_transformer(folder).encode([long_text], convert_to_numpy=True)
    assert cosine_rows(ours, theirs).min() >= 0.99999
    # Unset max_length defaults to the model's limit, without a warning.
    write_project(tmp_path / "q", shutil.copytree(folder, tmp_path / "q" / "model"))  # paths stay inside the project
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_project(tmp_path / "q").max_length == 64


def test_dynamo_exporter_also_matches(tmp_path, bert_mean):
    """Both exporters work for BERT in torch 2.13; torchscript (the default) exports ~10x faster and
    yields opset-17 plain ops, dynamo (opset 20, fused Gelu) is kept as an option."""
    from edgepack.export import export_project

    folder = shutil.copytree(bert_mean[1], tmp_path / "p" / "model")  # paths stay inside the project
    project = write_project(tmp_path / "p", folder, extra='[export]\nexporter = "dynamo"')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = export_project(project)
    assert result.parity.ok and result.manifest["stages"]["export"]["exporter"] == "dynamo"
    ts = Pipeline.load(bert_mean[2].build_dir)(TEXTS)["embeddings"]
    dy = Pipeline.load(result.build_dir)(TEXTS)["embeddings"]
    assert np.abs(ts - dy).max() < 1e-5


def test_loading_never_reaches_the_network(tmp_path, bert_mean, monkeypatch):
    """transformers loads offline: any socket connection while the module is built fails the test."""
    import socket

    from edgepack.hf import build_hf_module
    from edgepack.project import load_project

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = build_hf_module(load_project(bert_mean[0]))
    assert module.pooling == ("mean",)
