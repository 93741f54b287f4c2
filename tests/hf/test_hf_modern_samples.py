"""samples/roberta-classifier and samples/xlmr-embedder (issue 14): the RoBERTa family as it comes from
the Hub -- byte-level BPE and SentencePiece Unigram tokenizers, positions numbered from pad_token_id + 1,
no token_type_ids -- exported with parity, matched against transformers / sentence-transformers, and
quantized behind the gates. Both are built once per run by the session's ``built_sample``."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from edgepack.project import load_project, read_labelled_file
from edgepack.runtime.pipeline import Pipeline

pytest.importorskip("transformers", reason="the hf extra (transformers) is needed to export the HF-format samples")

# Text the English training corpus never saw: byte-level BPE falls back to bytes, Unigram to <unk>,
# the XLM-R charsmap folds full-width letters and ligatures (NFKC), runs of spaces collapse.
HARD = ["", "   ", "naïve café — ünïcödé 🙂👍🏽", "ＦＵＬＬ ｗｉｄｔｈ ﬁne ﬂow", "東京タワー 日本語 ภาษาไทย हिन्दी مرحبا",
        "two  spaces\tand\na newline", "<mask> <s> </s> literally", "great " * 300]


def _heldout(project):
    return read_labelled_file(load_project(project).file("../sentiment/heldout.tsv"), "heldout")


def _manifest(project):
    return json.loads((project / "build" / "manifest.json").read_text())


def _hf_tokenizer(project):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(project / "model"), local_files_only=True)


def _same_ids_as_transformers(pipe, project, texts):
    want = _hf_tokenizer(project)(texts, padding=True, truncation=True, max_length=128, return_tensors="np")
    feeds = pipe.encode(texts)
    assert sorted(feeds) == ["attention_mask", "input_ids"]  # RoBERTa family: no token_type_ids
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(feeds[name], want[name], err_msg=name)


def test_roberta_classifier_exports_with_parity_and_matches_transformers(built_sample):
    import torch
    from transformers import AutoModelForSequenceClassification

    project = built_sample("roberta-classifier")
    manifest = _manifest(project)
    assert manifest["parity"]["fp32"]["ok"]
    # 130 position embeddings less RoBERTa's offset (pad_token_id 1 + 1): 128 tokens.
    assert manifest["model"]["max_length"] == 128
    assert [i["name"] for i in manifest["inputs"]] == ["input_ids", "attention_mask"]
    assert manifest["model"]["labels"] == ["Negative", "Neutral", "Positive"]
    rows = _heldout(project)
    texts, gold = [t for t, _ in rows], [label for _, label in rows]
    pipe = Pipeline.load(project / "build")
    probs = pipe(texts)["probabilities"]
    labels = manifest["model"]["labels"]
    assert np.mean([labels[i] == g for i, g in zip(probs.argmax(-1), gold)]) >= 0.85
    sample = texts[:150] + HARD
    _same_ids_as_transformers(pipe, project, sample)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoModelForSequenceClassification.from_pretrained(str(project / "model"), local_files_only=True).eval()
    enc = _hf_tokenizer(project)(sample, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.inference_mode():
        want = torch.softmax(model(**enc).logits, -1).numpy()
    # the longest text fills all 128 positions: the offset is right or position 129 would be out of range
    assert int(enc["attention_mask"].sum(-1).max()) == 128
    assert np.abs(pipe(sample)["probabilities"] - want).max() < 1e-5


def test_xlmr_embedder_exports_with_parity_and_matches_sentence_transformers(built_sample, sentence_transformer):
    project = built_sample("xlmr-embedder")
    manifest = _manifest(project)
    assert manifest["parity"]["fp32"]["ok"] and manifest["model"]["max_length"] == 128
    assert [i["name"] for i in manifest["inputs"]] == ["input_ids", "attention_mask"]
    spec = json.loads((project / "build" / "tokenizer.json").read_text())
    assert spec["model"]["type"] == "Unigram" and spec["pre_tokenizer"]["type"] == "Metaspace"
    assert spec["normalizer"]["normalizers"][0]["type"] == "Precompiled"
    texts = [t for t, _ in _heldout(project)][:300] + HARD
    pipe = Pipeline.load(project / "build")
    ours = pipe(texts)["embeddings"]
    theirs = sentence_transformer(project / "model").encode(texts, convert_to_numpy=True, batch_size=64)
    assert (ours * theirs).sum(-1).min() >= 0.99999
    _same_ids_as_transformers(pipe, project, texts)
    great, wonderful, terrible = pipe(["This movie was really great and amazing", "The film was wonderful, I loved it",
                                       "The service was terrible and the food was cold"])["embeddings"]
    assert great @ wonderful > great @ terrible + 0.3


@pytest.mark.parametrize("name,gate", [("roberta-classifier", "agreement"), ("xlmr-embedder", "min_cosine")])
def test_modern_samples_quantize_behind_the_gates(built_sample, name, gate):
    project = built_sample(name, "quantize")
    manifest = _manifest(project)
    result = manifest["quantization"]["gate"]["result"]
    assert result["ok"], result
    assert result[gate] >= 0.99 and result["texts"] >= 500
    assert "int8" in manifest["precisions"]
    assert Pipeline.load(project / "build", precision="int8").self_test().ok
    rows = _heldout(project)
    fp32 = Pipeline.load(project / "build")([t for t, _ in rows][:200])
    int8 = Pipeline.load(project / "build", precision="int8")([t for t, _ in rows][:200])
    if name == "roberta-classifier":
        assert np.mean(fp32["probabilities"].argmax(-1) == int8["probabilities"].argmax(-1)) >= 0.97
    else:
        assert (fp32["embeddings"] * int8["embeddings"]).sum(-1).min() >= 0.99
