"""The similarity page of an embedding model, in real headless Chromium, held to Python ONNX Runtime.

samples/minilm-embedder (a Hugging Face-format sentence embedder) goes through `edgepack build
--target wasm` (export -> int8 gate -> browser speed gate -> bundle); the page must show the cosine
of two sentences and the examples ranked against a query, with the numbers edgepack's Python runtime
computes for the very same model file. ``EDGEPACK_UPDATE_SCREENSHOTS=1`` also refreshes
web/demo/screenshot-similarity.png (the README shows it).
"""

from __future__ import annotations

import io
import os
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from tests.repo_support import fresh_copy
from tests.browser_support import open_page
from tests.web.bundle_support import HARD_TEXTS, build_bundle, edgepack_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = Path(__file__).resolve().parents[2] / "web" / "demo" / "screenshot-similarity.png"
TOLERANCE = {"fp32": 1e-5, "int8": 1e-3}
# Queries whose ranking of the sample's examples has no near-ties (checked below, so the order test means something).
QUERIES = ["a wonderful film, I really loved it", "the food was cold and awful", "when does the museum open?"]
PAIR = ("This movie was really great and amazing", "The film was wonderful, I loved it")


@pytest.fixture(scope="module")
def embedders(built_sample, tmp_path_factory):
    """{"fp32": ..., "int8": ...}: the bundle `edgepack build --target wasm` shipped (its speed gate picks
    the precision) and a bundle of the other precision from the same build directory."""
    pytest.importorskip("transformers", reason="the hf extra (transformers) is needed to export the HF-format sample")
    from edgepack.build import build
    from edgepack.runtime.pipeline import Pipeline

    root = tmp_path_factory.mktemp("embedder")
    project = fresh_copy(built_sample("minilm-embedder", "quantize"), root)  # exported + quantized once per run
    result = build(project, "wasm")
    bundles = {result.artifact["precision"]: Path(result.artifact["directory"])}
    other = "fp32" if "int8" in bundles else "int8"
    bundles[other] = build_bundle(project / "build", root / f"minilm-{other}", other)
    with ExitStack() as stack:
        out = {}
        for precision, bundle in bundles.items():
            oracle = Pipeline.load(bundle, precision=precision)
            out[precision] = {"bundle": bundle, "precision": precision, "url": stack.enter_context(edgepack_server(bundle)),
                              "oracle": oracle, "examples": list(oracle.manifest.data["examples"])}
        yield out


@pytest.fixture(params=["fp32", "int8"])
def embedder(request, embedders):
    return embedders[request.param]


def _python_embedding(oracle, text):
    """edgepack's Python runtime on one text (one text per run, as the page does)."""
    return np.asarray(oracle.predict([text])[0]["embedding"], dtype=np.float64)


def _python_ranking(oracle, query, examples):
    q = _python_embedding(oracle, query)
    scores = np.array([float(q @ _python_embedding(oracle, t)) for t in examples])
    order = sorted(range(len(examples)), key=lambda i: (-scores[i], i))
    return order, scores


def _wait_similarity(page, a, b):
    page.wait_for_function(
        "([a, b]) => edgepackDemo.similarity?.a === a && edgepackDemo.similarity?.b === b && "
        "edgepackDemo.similarity.cosine !== null", arg=[a, b])


def _wait_ranking(page, query):
    page.wait_for_function(
        "(q) => edgepackDemo.ranking?.query === q && document.getElementById('ranked').dataset.ranked === 'true'",
        arg=query)


def _shown_ranking(page):
    texts = page.locator("#ranked li .text").all_inner_texts()
    scores = [float(s) for s in page.locator("#ranked li .score").all_inner_texts()]
    return texts, scores


def test_embeddings_equal_python_runtime(browser, embedder):
    precision, oracle = embedder["precision"], embedder["oracle"]
    texts = embedder["examples"] + HARD_TEXTS + ["", "great " * 300]  # empty, emoji, RTL, truncated
    with open_page(browser, embedder["url"]) as (page, log):
        assert page.get_attribute("body", "data-state") == "ready", page.inner_text("#error")
        assert page.evaluate("() => edgepackDemo.selfTest.passed") is True, page.inner_text("#selftest")
        assert page.inner_text("#selftest").startswith("Self-test passed")
        assert f"precision {precision}" in page.inner_text("#model-line")
        assert "feature-extraction" in page.inner_text("#model-line")
        got = page.evaluate(
            """async (texts) => (await edgepackDemo.pipeline.embed(texts))
                 .map((r) => ({ids: Array.from(r.ids, Number), v: Array.from(r.embedding)}))""",
            texts,
        )
        log.assert_clean()
    worst = 0.0
    for text, g in zip(texts, got, strict=True):
        feeds = oracle.encode([text])
        ids = [int(i) for i, m in zip(feeds["input_ids"][0], feeds["attention_mask"][0]) if m]
        assert g["ids"] == ids, f"{text[:40]!r}: JS token ids differ from Python's"
        diff = float(np.max(np.abs(np.asarray(g["v"]) - _python_embedding(oracle, text))))
        worst = max(worst, diff)
        assert diff <= TOLERANCE[precision], f"{text[:40]!r}: |Δ| {diff:.3g} > {TOLERANCE[precision]} ({precision})"
    print(f"\n{precision} bundle: worst |Δ| browser vs Python ORT over {len(texts)} texts: {worst:.3g}")


def test_cosine_live_as_you_type_equals_python(browser, embedder):
    oracle = embedder["oracle"]
    a, b = PAIR
    with open_page(browser, embedder["url"]) as (page, log):
        # Similarity page: both boxes and the ranking are there; classification bars are not.
        assert page.is_visible("#pair") and page.is_visible("#ranking")
        assert page.inner_text("#cosine") == "—"
        page.fill("#text", a)
        page.fill("#text-b", b)
        _wait_similarity(page, a, b)
        shown = float(page.inner_text("#cosine"))
        want = float(_python_embedding(oracle, a) @ _python_embedding(oracle, b))
        assert abs(shown - want) <= 1e-4, f"page shows {shown}, Python's dot product is {want:.6f}"
        assert abs(float(page.get_attribute("#cosine", "data-value")) - want) <= 1e-4
        assert abs(page.evaluate("() => document.getElementById('cosine-meter').value") - want) <= 1e-4
        # Sentence A's embedding (the UI path) equals Python's.
        last = page.evaluate("() => edgepackDemo.last.embedding")
        np.testing.assert_allclose(last, _python_embedding(oracle, a), atol=TOLERANCE[embedder["precision"]])

        # Live: keystrokes into B, the shown cosine follows the last text typed.
        page.fill("#text-b", "")
        page.wait_for_function("() => edgepackDemo.similarity?.b === '' && edgepackDemo.similarity.cosine === null")
        assert page.inner_text("#cosine") == "—"
        typed = "The museum opens"
        page.focus("#text-b")
        page.keyboard.type(typed)
        _wait_similarity(page, a, typed)
        want = float(_python_embedding(oracle, a) @ _python_embedding(oracle, typed))
        assert abs(float(page.inner_text("#cosine")) - want) <= 1e-4
        assert int(page.get_attribute("body", "data-runs")) >= 3
        log.assert_clean()


def test_ranking_equals_python(browser, embedder):
    oracle, examples = embedder["oracle"], embedder["examples"]
    with open_page(browser, embedder["url"]) as (page, log):
        # Before a query: the examples, unranked, without scores.
        assert page.locator("#ranked li .text").all_inner_texts() == examples and set(page.locator("#ranked li .score").all_inner_texts()) == {"—"}
        for query in QUERIES:
            order, scores = _python_ranking(oracle, query, examples)
            gaps = -np.diff(scores[order])
            assert gaps.min() > 1e-3, f"{query!r}: near-tie in Python's ranking ({gaps.min():.2g}); pick another query"
            page.fill("#query", query)
            _wait_ranking(page, query)
            shown_texts, shown_scores = _shown_ranking(page)
            assert shown_texts == [examples[i] for i in order], f"{query!r}: ranking differs from Python's"
            np.testing.assert_allclose(shown_scores, scores[order], atol=1e-4)
            assert page.locator("#ranked li").first.get_attribute("class") == "top"
        log.assert_clean()


def test_keyboard_labels_phone_width_and_screenshot(browser, embedders, tmp_path):
    from PIL import Image

    embedder = embedders["fp32"]

    examples = embedder["examples"]
    with open_page(browser, embedder["url"], viewport={"width": 360, "height": 740}) as (page, log):
        assert page.get_by_role("textbox", name="Sentence A").count() == 1
        assert page.get_by_role("textbox", name="Sentence B").count() == 1
        assert page.get_by_role("searchbox", name="Rank the examples against a query").count() == 1
        assert page.get_by_role("meter", name="Cosine similarity of A and B, from -1 to 1").count() == 1
        # Tab from A reaches the first example; Enter puts it into A. Then Tab on to B and the query.
        page.focus("#text")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == examples[0]
        page.keyboard.press("Enter")
        assert page.input_value("#text") == examples[0]
        page.focus("#text-b")
        page.keyboard.type(examples[1])
        _wait_similarity(page, examples[0], examples[1])
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.id") == "query"
        page.keyboard.type(QUERIES[0])
        _wait_ranking(page, QUERIES[0])
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), "wider than a phone"
        log.assert_clean()

    a, b = PAIR
    url = embedder["url"] + "#" + "&".join(f"{k}={v}" for k, v in {"text": a, "b": b, "q": QUERIES[0]}.items())
    with open_page(browser, url.replace(" ", "%20"), viewport={"width": 900, "height": 800}) as (page, log):
        _wait_similarity(page, a, b)  # the URL fragment fills all three boxes and runs at once
        _wait_ranking(page, QUERIES[0])
        png = page.screenshot(full_page=True)
        log.assert_clean()
    (tmp_path / "similarity.png").write_bytes(png)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 50 and np.mean(np.any(pixels != pixels[0], axis=1)) > 0.02, "blank?"
    if os.environ.get("EDGEPACK_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.write_bytes(png)
    # Documentation only: never shipped in a bundle.
    assert not (embedder["bundle"] / SCREENSHOT.name).exists()
