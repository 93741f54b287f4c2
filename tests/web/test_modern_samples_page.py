"""The RoBERTa-family samples in real headless Chromium (issue 14): samples/roberta-classifier (byte-level
BPE) and samples/xlmr-embedder (SentencePiece Unigram, Precompiled charsmap) go through `edgepack build
--target wasm`; the page's JS tokenizer and onnxruntime-web are held to edgepack's Python runtime on the
very same model files -- token ids exactly, outputs within the manifest's tolerance -- for the precision
the build shipped and the other one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.browser_support import open_page
from tests.repo_support import fresh_copy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLES = ("roberta-classifier", "xlmr-embedder")
# Emoji, right-to-left and scripts the English training corpus never saw (byte fallback in BPE, <unk>
# and NFKC folding in Unigram + charsmap), runs of spaces, special-token look-alikes, an empty text and
# one truncated at 128 tokens (last: the test checks its length).
TEXTS = ["😀 great movie 👍🏽", "هذا فيلم رائع", "שלום great film", "zzz qqq unknownword", "?!", "the  END\tof\nthe story",
         "ภาษาไทยไม่มีช่องว่าง", "हिन्दी में वाक्य", "日本語のテキストと中文", "ＦＵＬＬ ｗｉｄｔｈ ﬁne ﬂow ①",
         "naïve café — ünïcödé 👨‍👩‍👧‍👦 🇫🇷", "mixed Englishไทยहिन्दी日本 ok", "two  spaces   three",
         "<s> </s> <mask> <pad>", "", "great " * 300]


@pytest.fixture(scope="module", params=SAMPLES)
def bundles(request, built_sample, tmp_path_factory):
    """{precision: bundle}: what `build --target wasm` shipped, and the other precision of the same build."""
    pytest.importorskip("transformers", reason="the hf extra (transformers) is needed to export the HF-format samples")
    from edgepack.build import build
    from edgepack.web.bundle import build_wasm_bundle

    root = tmp_path_factory.mktemp(request.param)
    project = fresh_copy(built_sample(request.param, "quantize"), root)  # exported + quantized once per run
    result = build(project, "wasm")
    out = {result.artifact["precision"]: Path(result.artifact["directory"])}
    other = "fp32" if "int8" in out else "int8"
    out[other] = build_wasm_bundle(project / "build", root / f"{request.param}-{other}", other).directory
    return out


def test_modern_sample_page_equals_python_runtime(browser, bundles):
    from edgepack.runtime.pipeline import Pipeline
    from edgepack.web.serve import running

    for precision, bundle in sorted(bundles.items()):
        python = Pipeline.load(bundle, precision=precision)  # the very model file the page fetches
        tolerance = float(python.manifest.precisions[precision]["tolerance"])
        texts = list(dict.fromkeys(python.manifest.data["examples"] + TEXTS))
        with running(bundle, isolate=True) as url, open_page(browser, url) as (page, log):
            assert page.get_attribute("body", "data-state") == "ready", page.inner_text("#error")
            assert page.evaluate("() => edgepackDemo.selfTest.passed") is True, page.inner_text("#selftest")
            assert f"precision {precision}" in page.inner_text("#model-line")
            # One text per call on both sides, as the page and the gates run: dynamic INT8 scales its
            # activations per batch, so a text's int8 output depends on what it is batched with.
            got = page.evaluate(
                """async (texts) => {
                    const out = [];
                    for (const t of texts) {
                        const [r] = await edgepackDemo.pipeline.predict([t]);
                        out.push({probabilities: r.probabilities, embedding: r.embedding, ids: Array.from(r.ids, Number)});
                    }
                    return out;
                }""",
                texts)
            log.assert_clean()
        want = [python.predict([t])[0] for t in texts]
        assert len(got) == len(want) == len(texts)
        for text, g, w in zip(texts, got, want, strict=True):
            where = f"{bundle.name} {precision} {text[:30]!r}"
            feeds = python.encode(text)
            assert g["ids"] == [int(i) for i, m in zip(feeds["input_ids"][0], feeds["attention_mask"][0]) if m], where
            if python.task == "feature-extraction":
                diff = float(np.max(np.abs(np.asarray(g["embedding"]) - w["embedding"])))
            else:
                assert list(g["probabilities"]) == list(w["probabilities"]), where
                diff = max(abs(g["probabilities"][k] - p) for k, p in w["probabilities"].items())
            assert diff <= tolerance, (where, diff)
        # the comparison means something: outputs vary with the text, and the long text hit max_length
        rows = [w["embedding"] if python.task == "feature-extraction" else list(w["probabilities"].values()) for w in want]
        assert np.ptp(np.asarray(rows), axis=0).max() > 1e-2, f"{bundle.name}: every text gets the same output"
        assert len(got[-1]["ids"]) == python.manifest.data["model"]["max_length"] == 128
