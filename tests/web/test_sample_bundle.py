"""The sample the README promises: `edgepack build samples/sentiment --target wasm`, proven in Chromium.

The bundle made by edgepack's own build (export -> quantize gates -> wasm) and an fp32 bundle of
the same build directory are both held to edgepack's Python runtime (tokenizer + Python ONNX
Runtime on the very same model file): fp32 |Δ| <= 1e-5, int8 |Δ| <= 1e-3 with the same label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.repo_support import fresh_copy
from tests.browser_support import open_page
from tests.web.bundle_support import HARD_TEXTS, build_bundle, classify_in_page, edgepack_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sentiment"


@pytest.fixture(scope="module")
def sentiment_bundles(built_sample, tmp_path_factory):
    from edgepack.build import build

    # exported and quantized once per run (the shared cache); the build only adds the bundle
    project = fresh_copy(built_sample("sentiment", "quantize"), tmp_path_factory.mktemp("sample"))
    result = build(project, "wasm")
    assert result.stages["export"].startswith("skipped") and result.stages["quantize"].startswith("skipped")
    built = Path(result.artifact["directory"])
    fp32 = build_bundle(project / "build", tmp_path_factory.mktemp("fp32") / "sentiment-fp32", "fp32")
    # "built": what `edgepack build --target wasm` shipped (the gates' choice, int8 for this sample)
    return {"built": (result.artifact["precision"], built), "fp32": ("fp32", fp32)}


def _sample_texts(n=40):
    rows = (SAMPLE / "heldout.tsv").read_text(encoding="utf-8").splitlines()[1 : n + 1]
    return [r.split("\t")[0] for r in rows] + HARD_TEXTS + ["great " * 200]


@pytest.mark.parametrize("which", ["fp32", "built"])
def test_sample_bundle_matches_python_runtime(browser, sentiment_bundles, which):
    from edgepack.runtime.pipeline import Pipeline

    precision, bundle = sentiment_bundles[which]
    tolerance = {"fp32": 1e-5}.get(precision, 1e-3)
    texts = _sample_texts()
    with edgepack_server(bundle) as url, open_page(browser, url) as (page, log):
        assert page.evaluate("() => edgepackDemo.selfTest.passed") is True, page.inner_text("#selftest")
        assert f"precision {precision}" in page.inner_text("#model-line")
        got = classify_in_page(page, texts)
        log.assert_clean()
    oracle = Pipeline.load(bundle, precision=precision)
    for text, g in zip(texts, got, strict=True):
        feeds = oracle.encode([text])
        # Unpadded ids (an empty text is one [PAD] with mask 0 in Python, no ids in the page).
        ids = [int(i) for i, m in zip(feeds["input_ids"][0], feeds["attention_mask"][0]) if m]
        assert g["ids"] == ids, text
        want = oracle.run(feeds)["probabilities"][0]
        diff = float(np.max(np.abs(np.asarray(g["probabilities"]) - want)))
        assert diff <= tolerance, f"{text!r}: |Δ| {diff:.3g} > {tolerance} ({precision})"
        assert g["label"] == oracle.manifest.labels[int(np.argmax(want))], text
