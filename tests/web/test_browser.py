"""The bundle as a user runs it: real headless Chromium against real servers, Python ORT as the oracle."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from tests.browser_support import open_page
from tests.web.bundle_support import HARD_TEXTS, JS_EXTRAS, build_bundle, classify_in_page, edgepack_server, plain_server
from tests.web.tiny_artifact_support import LABELS, MAX_LENGTH, TEXTS

pytestmark = pytest.mark.browser

def _python_ort(bundle, precision, texts):
    """ids (HF tokenizers) and probabilities (Python ONNX Runtime) for each text, one at a time."""
    from tokenizers import Tokenizer

    from edgepack.runtime.manifest import load_manifest
    from edgepack.runtime.session import create_session

    manifest = load_manifest(bundle)
    tok = Tokenizer.from_file(str(bundle / "tokenizer.json"))
    session = create_session(manifest.model_path(precision))
    out = []
    for text in texts:
        enc = tok.encode(text)
        ids = enc.ids or [0]  # the runtime rule: an empty text is one [PAD] with mask 0
        mask = enc.attention_mask or [0]
        feeds = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.array([mask], dtype=np.int64)}
        out.append({"ids": list(enc.ids), "probabilities": session.run(["probabilities"], feeds)[0][0]})
    return out


def _assert_matches(page_results, oracle, tolerance):
    worst = 0.0
    for got, want in zip(page_results, oracle, strict=True):
        assert got["ids"] == want["ids"], "JS tokenizer ids differ from HF tokenizers'"
        probs = got["probabilities"]
        if isinstance(probs, dict):  # the pipeline's own {label: p}
            assert list(probs) == LABELS, "probabilities: {label: p} in label order"
            probs = list(probs.values())
        diff = float(np.max(np.abs(np.asarray(probs) - want["probabilities"])))
        worst = max(worst, diff)
        assert diff <= tolerance, f"|Δ| {diff:.3g} > {tolerance}"
        assert got["label"] == LABELS[int(np.argmax(want["probabilities"]))]
    return worst


def test_page_loads_clean_threads_and_self_test(browser, served_bundle):
    with open_page(browser, served_bundle) as (page, log):
        assert page.get_attribute("body", "data-state") == "ready", page.inner_text("#error")
        assert page.evaluate("() => crossOriginIsolated") is True
        cores = page.evaluate("() => navigator.hardwareConcurrency")
        assert cores >= 2, "this machine reports one core: the threads check needs two"
        threads = int(page.get_attribute("#runtime", "data-threads"))
        assert threads == min(4, cores) and threads > 1
        # Real threads, not just a setting: ORT's pthread workers run (the main thread is one of them).
        assert len([w for w in page.workers if w.url.endswith("/ort/ort-wasm-simd-threaded.mjs")]) >= threads - 1
        runtime = page.inner_text("#runtime")
        assert "Backend: wasm" in runtime and "SIMD: on" in runtime and f"{threads} threads" in runtime
        selftest = page.inner_text("#selftest")
        assert selftest.startswith(f"Self-test passed: {len(TEXTS)}/{len(TEXTS)}"), selftest
        assert page.evaluate("() => edgepackDemo.selfTest.passed") is True
        assert "precision fp32" in page.inner_text("#model-line")
        # The page typed into still classifies (the UI path, not just the API).
        page.fill("#text", TEXTS[0])
        page.wait_for_function("() => Number(document.body.dataset.runs) >= 1")
        assert page.inner_text("#label") in LABELS
        assert page.locator("#bars li").count() == len(LABELS)
        assert " ms" in page.inner_text("#latency")
        log.assert_clean()
        headers = log.responses[served_bundle]
        assert headers["cross-origin-opener-policy"] == "same-origin"
        assert "script-src 'self' 'wasm-unsafe-eval'" in headers["content-security-policy"]
        wasm = log.responses[served_bundle + "ort/ort-wasm-simd-threaded.wasm"]
        assert wasm["content-type"] == "application/wasm" and wasm["content-encoding"] == "br"
        # Only the wasm-only ORT build was fetched: never the JSEP/WebGPU one.
        assert not [u for u in log.responses if "jsep" in u or "webgpu" in u]


def test_probabilities_equal_python_ort_fp32(browser, served_bundle, tiny_bundle):
    texts = TEXTS + HARD_TEXTS
    with open_page(browser, served_bundle) as (page, log):
        results = classify_in_page(page, texts)
        log.assert_clean()
    worst = _assert_matches(results, _python_ort(tiny_bundle, "fp32", texts), 1e-5)
    assert worst < 1e-5


def test_batch_padding_matches_python(browser, served_bundle, tiny_bundle):
    texts = [TEXTS[0], TEXTS[1], "fine"]  # different lengths: the short rows are padded
    with open_page(browser, served_bundle) as (page, _):
        got = page.evaluate(
            """async (texts) => {
                const r = await edgepackDemo.pipeline.run(texts);
                return {data: Array.from(r.outputs.probabilities.data), dims: r.outputs.probabilities.dims};
            }""",
            texts,
        )
    singles = _python_ort(tiny_bundle, "fp32", texts)
    assert got["dims"] == [3, len(LABELS)]
    np.testing.assert_allclose(np.reshape(got["data"], (3, -1)), [s["probabilities"] for s in singles], atol=1e-5)


def test_int8_bundle_matches_python_ort(browser, tiny_artifact, tmp_path):
    bundle = build_bundle(tiny_artifact, tmp_path / "tiny-int8", "int8")
    texts = TEXTS + HARD_TEXTS
    with edgepack_server(bundle) as url, open_page(browser, url) as (page, log):
        assert page.evaluate("() => edgepackDemo.selfTest.passed") is True, page.inner_text("#selftest")
        assert "precision int8" in page.inner_text("#model-line")
        results = classify_in_page(page, texts)
        log.assert_clean()
    _assert_matches(results, _python_ort(bundle, "int8", texts), 1e-3)


@pytest.mark.parametrize("victim", ["model.fp32.onnx", "tokenizer.json"])
def test_flipped_byte_is_refused_visibly(browser, tiny_bundle, tmp_path, victim):
    bundle = tmp_path / "tampered"
    shutil.copytree(tiny_bundle, bundle)
    path = bundle / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    # The .br/.gz copies stay (older than the file now): serve.py must not serve the stale copy.
    path.write_bytes(bytes(data))
    with edgepack_server(bundle) as url, open_page(browser, url) as (page, log):
        assert page.get_attribute("body", "data-state") == "error"
        assert page.is_visible("#error")
        message = page.inner_text("#error")
        assert victim in message and "modified or corrupted" in message, message
        assert page.is_disabled("#text")
        assert "not run" in page.inner_text("#selftest")
        assert not log.off_origin


def test_plain_static_server_runs_single_threaded(browser, tiny_bundle):
    with plain_server(tiny_bundle) as url, open_page(browser, url) as (page, log):
        assert page.get_attribute("body", "data-state") == "ready", page.inner_text("#error")
        assert page.evaluate("() => crossOriginIsolated") is False
        assert page.get_attribute("#runtime", "data-threads") == "1"
        assert page.workers == []
        assert "not cross-origin isolated" in page.inner_text("#runtime")
        assert page.evaluate("() => edgepackDemo.selfTest.passed") is True
        log.assert_clean()


def test_screenshot_non_blank_and_phone_width(browser, served_bundle, tmp_path):
    from PIL import Image

    with open_page(browser, served_bundle, viewport={"width": 360, "height": 740}) as (page, log):
        page.fill("#text", TEXTS[1])
        page.wait_for_function("() => Number(document.body.dataset.runs) >= 1")
        # Readable at phone width: nothing wider than the viewport.
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        png = page.screenshot(full_page=True)
        (tmp_path / "demo.png").write_bytes(png)
        log.assert_clean()
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    differing = np.mean(np.any(pixels != pixels[0], axis=1))
    colours = len(np.unique(pixels, axis=0))
    assert colours > 50 and differing > 0.02, f"screenshot looks blank ({colours} colours, {differing:.1%} non-background)"


def test_bad_inputs_empty_huge_emoji_rtl(browser, served_bundle):
    with open_page(browser, served_bundle) as (page, log):
        page.fill("#text", TEXTS[0])
        page.wait_for_function("() => Number(document.body.dataset.runs) >= 1")
        page.fill("#text", "")
        page.wait_for_function("() => document.getElementById('label').textContent === '—'")
        assert page.locator("#bars li").count() == 0
        runs = int(page.get_attribute("body", "data-runs"))

        huge = ("great movie " * 10_000)[:100_000]
        page.fill("#text", huge)
        page.wait_for_function(f"() => Number(document.body.dataset.runs) > {runs}", timeout=60_000)
        last = page.evaluate("() => ({tokens: edgepackDemo.last.tokens, n: edgepackDemo.last.text.length})")
        assert last == {"tokens": MAX_LENGTH, "n": 100_000}  # truncated per tokenizer.json
        # Still responsive: the next edit is classified too.
        runs = int(page.get_attribute("body", "data-runs"))
        page.fill("#text", "هذا فيلم رائع 😀")
        page.wait_for_function(f"() => Number(document.body.dataset.runs) > {runs}")
        assert page.inner_text("#label") in LABELS
        total = page.evaluate("() => Object.values(edgepackDemo.last.probabilities).reduce((a, b) => a + b, 0)")
        assert abs(total - 1) < 1e-5
        assert page.get_attribute("body", "data-state") == "ready"
        log.assert_clean()


def test_keyboard_and_labels(browser, served_bundle):
    with open_page(browser, served_bundle) as (page, log):
        # The text box has a label; example buttons are reachable with Tab and work with Enter.
        assert page.get_by_role("textbox", name="Text to classify").count() == 1
        assert page.get_by_role("group", name="Example sentences").count() == 1
        page.focus("#text")
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.textContent")
        assert focused == TEXTS[0]
        page.keyboard.press("Enter")
        page.wait_for_function("() => Number(document.body.dataset.runs) >= 1")
        assert page.input_value("#text") == TEXTS[0]
        bars = page.get_by_role("progressbar")
        assert bars.count() == len(LABELS)
        assert {bars.nth(i).get_attribute("aria-label") for i in range(len(LABELS))} == {f"{x} probability" for x in LABELS}
        assert page.get_by_role("status").count() >= 1 and page.locator("[role=alert]").count() == 1
        log.assert_clean()


def test_js_artifact_table_matches_python(browser, served_bundle):
    from edgepack.runtime import artifacts

    with open_page(browser, served_bundle) as (page, _):
        js = page.evaluate(
            """async () => {
                const m = await import('./edgepack/artifacts.mjs');
                return {files: m.PRECISION_FILES, tol: m.PRECISION_TOLERANCE, manifest: m.MANIFEST_NAME,
                        tokenizer: m.TOKENIZER_NAME, version: m.MANIFEST_FORMAT_VERSION};
            }"""
        )
    assert js == {
        "files": artifacts.PRECISION_FILES,
        "tol": artifacts.PRECISION_TOLERANCE,
        "manifest": artifacts.MANIFEST_NAME,
        "tokenizer": artifacts.TOKENIZER_NAME,
        "version": artifacts.MANIFEST_FORMAT_VERSION,
    }
    json.dumps(js)


def test_text_in_url_fragment_classifies_at_once(browser, served_bundle):
    from urllib.parse import quote

    with open_page(browser, served_bundle + "#text=" + quote(TEXTS[2])) as (page, log):
        page.wait_for_function("() => Number(document.body.dataset.runs) >= 1")
        assert page.input_value("#text") == TEXTS[2]
        marks = page.evaluate("() => performance.getEntriesByType('mark').map((m) => m.name)")
        assert marks == ["edgepack:ready", "edgepack:first-result"]
        log.assert_clean()


def test_feature_extraction_bundle(browser, tmp_path):
    from tests.web.tiny_artifact_support import DIM, make_tiny_artifact

    from edgepack.runtime.session import create_session

    art = make_tiny_artifact(tmp_path / "emb", with_int8=False, task="feature-extraction")
    bundle = build_bundle(art, tmp_path / "emb-wasm", "fp32")
    with edgepack_server(bundle) as url, open_page(browser, url) as (page, log):
        assert page.evaluate("() => edgepackDemo.selfTest.passed") is True, page.inner_text("#selftest")
        page.fill("#text", TEXTS[0])
        page.wait_for_function("() => Number(document.body.dataset.runs) >= 1")
        assert page.inner_text("#label").startswith(f"embedding, {DIM} dims")
        last = page.evaluate("() => ({ids: Array.from(edgepackDemo.last.ids, Number), v: edgepackDemo.last.embedding})")
        log.assert_clean()
    session = create_session(bundle / "model.fp32.onnx")
    feeds = {"input_ids": np.array([last["ids"]], dtype=np.int64), "attention_mask": np.ones((1, len(last["ids"])), dtype=np.int64)}
    np.testing.assert_allclose(last["v"], session.run(["embeddings"], feeds)[0][0], atol=1e-5)


def test_js_argument_rule_and_result_shape(browser, served_bundle, tiny_bundle):
    from edgepack.runtime.pipeline import Pipeline

    text = TEXTS[0]
    with open_page(browser, served_bundle) as (page, log):
        got = page.evaluate(
            """async (text) => {
                const p = edgepackDemo.pipeline;
                const one = await p.classify(text), list = await p.classify([text, text]), pred = await p.predict(text);
                const errors = [];
                for (const bad of [null, 42, new Uint8Array([1]), [text, 7], {text}]) {
                    try { await p.predict(bad); errors.push('accepted'); } catch (e) { errors.push(`${e.name}: ${e.message}`); }
                }
                try { await p.embed(text); errors.push('accepted'); } catch (e) { errors.push(`${e.name}: ${e.message}`); }
                const strip = (r) => ({label: r.label, score: r.score, probabilities: r.probabilities, keys: Object.keys(r)});
                return {one: strip(one), list: list.map(strip), pred: strip(pred), isArray: Array.isArray(list), errors};
            }""",
            text,
        )
        log.assert_clean()
    want = Pipeline.load(tiny_bundle).predict(text)
    assert not isinstance(got["one"], list) and got["isArray"] and len(got["list"]) == 2
    for r in (got["one"], got["pred"], *got["list"]):
        assert {"label", "score", "probabilities"} <= set(r["keys"]) <= {"label", "score", "probabilities"} | JS_EXTRAS
        assert r["label"] == want["label"] and list(r["probabilities"]) == list(want["probabilities"])
        assert abs(r["score"] - want["score"]) < 1e-5
    assert got["errors"][:5] == [
        "InputError: texts: expected a string or an array of strings, got null",
        "InputError: texts: expected a string or an array of strings, got number",
        "InputError: texts: expected a string or an array of strings, got Uint8Array",
        "InputError: texts[1]: expected a string (or a [text, pair] array of strings), got number",
        "InputError: texts: expected a string or an array of strings, got Object",
    ]
    assert got["errors"][5].startswith("ModelOutputError: embed() needs a feature-extraction model; this one is text-classification")


@pytest.fixture(scope="module")
def misfit_bundles(tmp_path_factory):
    from tests.runtime.misfits_support import make_misfits

    base = tmp_path_factory.mktemp("misfit")
    cases = ("logits-output", "logits-named-probabilities", "fewer-labels", "classifier-as-embedder")
    return {case: build_bundle(art, base / f"{case}-wasm", "fp32") for case, art in make_misfits(base, cases).items()}


@pytest.mark.parametrize("case", ["logits-output", "logits-named-probabilities", "fewer-labels", "classifier-as-embedder"])
def test_outputs_that_do_not_fit_the_task_never_show_a_green_self_test(browser, misfit_bundles, case):
    from tests.runtime.misfits_support import MISFIT_MESSAGES

    with edgepack_server(misfit_bundles[case]) as url, open_page(browser, url) as (page, log):
        assert page.get_attribute("body", "data-state") == "error"
        message = page.inner_text("#error")
        assert message.startswith("Could not start: ") and MISFIT_MESSAGES[case] in message, message
        assert "not run" in page.inner_text("#selftest") and page.locator(".selftest.pass").count() == 0
        assert page.is_disabled("#text")
        # The JS API refuses the same bundle with a typed error (not a result, not a green self-test).
        err = page.evaluate(
            """async () => {
                const {Pipeline} = await import('./edgepack/pipeline.mjs');
                try { await Pipeline.load(new URL('./', location.href)); return null; }
                catch (e) { return {name: e.name, message: e.message}; }
            }""")
        assert err["name"] == "ModelOutputError" and MISFIT_MESSAGES[case] in err["message"], err
        assert not log.page_errors and not log.off_origin and not log.failed
