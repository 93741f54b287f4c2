"""Python and the browser give the same results for every kind of model source.

One tiny project per source type -- `module:factory` + safetensors (the sentiment sample), an ONNX
file returning logits (export appends the softmax), an ONNX file returning probabilities, and Hugging
Face folders (a classifier and a sentence embedder) -- is exported, bundled for the browser (fp32),
and its page's JS pipeline is held to edgepack's Python Pipeline on the very same model file: the
same result keys, labels and probabilities (or embeddings) within the manifest's tolerance.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from tests.browser_support import open_page
from tests.web.bundle_support import HARD_TEXTS, JS_EXTRAS, build_bundle, edgepack_server

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
LABELS = ["Negative", "Neutral", "Positive"]
EXAMPLES = ["This movie was really great and amazing", "The service was terrible and the food was cold",
            "The museum opens at 9 o'clock"]
SHARED_KEYS = {"text-classification": ["label", "score", "probabilities"], "feature-extraction": ["embedding"]}


def _onnx_source_project(root: Path, output: str) -> Path:
    """An [model] onnx project: a tiny torch module (embedding -> masked mean -> linear) exported here,
    returning logits or, with its own softmax, probabilities."""
    import torch

    from edgepack.runtime.tokenizer import Tokenizer

    root.mkdir(parents=True)
    shutil.copyfile(REPO / "samples" / "sentiment" / "tokenizer.json", root / "tokenizer.json")
    vocab = Tokenizer.from_file(root / "tokenizer.json").get_vocab_size()

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(vocab, 16)
            self.head = torch.nn.Linear(16, len(LABELS))

        def forward(self, input_ids, attention_mask):
            mask = attention_mask.unsqueeze(-1).to(torch.float32)
            pooled = (self.emb(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            logits = self.head(pooled) * 3.0  # sharper than random init, so labels differ between texts
            return torch.softmax(logits, dim=-1) if output == "probabilities" else logits

    torch.manual_seed(0)
    ids = torch.tensor([[5, 6, 7, 0]], dtype=torch.int64)
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.int64)
    dims = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Tiny().eval(), (ids, mask), str(root / "model.onnx"), input_names=["input_ids", "attention_mask"],
                          output_names=[output], dynamic_axes={"input_ids": dims, "attention_mask": dims, output: {0: "batch"}},
                          opset_version=17, dynamo=False)
    (root / "edgepack.toml").write_text(
        f'name = "onnx-{output}"\nversion = "0.1.0"\ntask = "text-classification"\nlabels = {json.dumps(LABELS)}\n'
        'max_length = 32\ntokenizer = "tokenizer.json"\n\n'
        f'[model]\nonnx = "model.onnx"\noutput = "{output}"\n\n[examples]\ntexts = {json.dumps(EXAMPLES)}\n',
        encoding="utf-8")
    return root


def _hf_project(root: Path, task: str) -> Path:
    pytest.importorskip("transformers", reason="the hf extra (transformers) is needed for the HF-folder sources")
    from tests.hf.hf_tiny import make_folder, write_project

    folder = make_folder(root / "model", task=task, pooling="mean" if task == "feature-extraction" else None)
    return write_project(root, folder, task=task)


def _exported(project: Path) -> Path:
    from edgepack.export import export_project

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_project(project).build_dir


@pytest.fixture(scope="module")
def source_build(request, tmp_path_factory):
    """source name -> a function building (once) that source's exported build directory."""
    cache: dict[str, Path] = {}

    def get(source: str) -> Path:
        if source not in cache:
            root = tmp_path_factory.mktemp(source)
            if source == "factory-safetensors":
                cache[source] = request.getfixturevalue("sentiment_project") / "build"
            elif source.startswith("onnx-"):
                cache[source] = _exported(_onnx_source_project(root / "project", source.removeprefix("onnx-")))
            else:
                task = "text-classification" if source == "hf-classifier" else "feature-extraction"
                cache[source] = _exported(_hf_project(root, task))
        return cache[source]

    return get


def _page_predict(page, texts):
    """The page's JS pipeline on texts (one predict() call), as plain JSON."""
    return page.evaluate(
        """async (texts) => (await edgepackDemo.pipeline.predict(texts)).map((r) => ({
            keys: Object.keys(r), label: r.label, score: r.score, probabilities: r.probabilities,
            embedding: r.embedding, ids: Array.from(r.ids, Number)}))""",
        texts,
    )


@pytest.mark.parametrize("source", ["factory-safetensors", "onnx-logits", "onnx-probabilities", "hf-classifier",
                                    "hf-embedder"])
def test_browser_equals_python_for_every_source(browser, source_build, tmp_path, source):
    from edgepack.runtime.pipeline import Pipeline

    bundle = build_bundle(source_build(source), tmp_path / f"{source}-wasm", "fp32")
    python = Pipeline.load(bundle, precision="fp32")  # the very model file the page fetches
    task, labels = python.task, python.manifest.labels
    tolerance = float(python.manifest.precisions["fp32"]["tolerance"])
    texts = python.manifest.data.get("examples", []) + EXAMPLES + HARD_TEXTS + ["", "great " * 200]
    if source.startswith("hf-"):
        from tests.hf.hf_tiny import TEXTS as HF_TEXTS  # in the tiny WordPiece vocabulary: varied labels

        texts += HF_TEXTS
    texts = list(dict.fromkeys(texts))
    with edgepack_server(bundle) as url, open_page(browser, url) as (page, log):
        assert page.get_attribute("body", "data-state") == "ready", page.inner_text("#error")
        assert page.evaluate("() => edgepackDemo.selfTest.passed") is True, page.inner_text("#selftest")
        got = _page_predict(page, texts)
        log.assert_clean()

    want = python.predict(texts)
    assert len(got) == len(want) == len(texts)
    shared = SHARED_KEYS[task]
    labels_seen = set()
    for text, g, w in zip(texts, got, want, strict=True):
        where = f"{source} {text[:30]!r}"
        assert list(w) == shared, where
        assert [k for k in g["keys"] if k in shared] == shared and set(g["keys"]) - set(shared) <= JS_EXTRAS, (where, g["keys"])
        feeds = python.encode(text)
        assert g["ids"] == [int(i) for i, m in zip(feeds["input_ids"][0], feeds["attention_mask"][0]) if m], where
        if task == "feature-extraction":
            diff = np.max(np.abs(np.asarray(g["embedding"]) - w["embedding"]), initial=0.0)
            assert len(g["embedding"]) == len(w["embedding"]) and diff <= tolerance, (where, diff)
            continue
        assert list(g["probabilities"]) == list(w["probabilities"]) == labels, where
        diff = max(abs(g["probabilities"][k] - p) for k, p in w["probabilities"].items())
        assert diff <= tolerance and abs(g["score"] - w["score"]) <= tolerance, (where, diff)
        assert abs(sum(g["probabilities"].values()) - 1) < 1e-4, (where, "not probabilities")
        # Same label, unless the two top probabilities tie within the tolerance.
        assert g["label"] == w["label"] or abs(w["probabilities"][g["label"]] - w["score"]) <= tolerance, where
        labels_seen.add(w["label"])
    # The comparison must mean something: the answers vary with the text. (A tiny random BERT gives
    # every text the same label -- its pooled output barely moves -- so there only the numbers must vary.)
    rows = [list(w["probabilities"].values()) if task == "text-classification" else w["embedding"] for w in want]
    assert np.ptp(np.asarray(rows), axis=0).max() > 1e-4, f"{source}: every text gets the same output"
    if task == "text-classification" and not source.startswith("hf-"):
        assert len(labels_seen) > 1, f"{source}: every text got {labels_seen}"


def test_pyodide_page_same_shape_and_refuses_a_misfit(browser, tmp_path):
    """The Pyodide page's Python pipeline: a str -> one result equal to Python's, a bad argument -> a
    typed error, and a model that returns logits -> a one-line error on the page, never a self-test."""
    from edgepack.runtime.pipeline import Pipeline
    from edgepack.web.pyodide import build_pyodide_bundle
    from tests.runtime.misfits_support import MISFIT_MESSAGES, make_misfits
    from tests.web.tiny_artifact_support import TEXTS, make_tiny_artifact

    good = make_tiny_artifact(tmp_path / "good", with_int8=False)
    bad = make_misfits(tmp_path / "misfit", ("logits-output",))["logits-output"]
    bundles = {name: build_pyodide_bundle(art, tmp_path / f"{name}-pyodide", brotli_quality=1).directory
               for name, art in (("good", good), ("bad", bad))}
    with edgepack_server(bundles["good"]) as url, open_page(browser, url) as (page, log):
        assert page.get_attribute("body", "data-state") == "ready", page.inner_text("#error")
        assert page.evaluate("() => edgepackPyodide.selfTest.ok") is True
        got = page.evaluate(
            """async (text) => {
                const p = edgepackPyodide.pipeline;
                const one = JSON.parse(await p.predict_json(JSON.stringify(text)));
                const many = JSON.parse(await p.predict_json(JSON.stringify([text])));
                let error = null;
                try { await p.predict_json('[42]'); } catch (e) { error = String(e.message).trim().split('\\n').pop(); }
                return {one, many, error};
            }""",
            TEXTS[0],
        )
        log.assert_clean()
    want = Pipeline.load(good).predict(TEXTS[0])
    one = {k: v for k, v in got["one"].items() if k != "input_ids"}
    assert isinstance(got["many"], list) and got["many"][0] == got["one"]
    assert list(one) == list(want) and one["label"] == want["label"]
    assert max(abs(one["probabilities"][k] - p) for k, p in want["probabilities"].items()) <= 1e-5
    assert got["error"] == "edgepack.runtime.postprocess.TextInputError: texts[0]: expected a str (or a (text, pair) tuple of str), got int"

    with edgepack_server(bundles["bad"]) as url, open_page(browser, url) as (page, log):
        assert page.get_attribute("body", "data-state") == "error"
        message = page.inner_text("#error")
        assert message.startswith("Could not start: ArtifactError: model.fp32.onnx: ") and "Traceback" not in message
        assert MISFIT_MESSAGES["logits-output"] in message, message
        assert "not run" in page.inner_text("#selftest") and not log.off_origin
