"""The Pyodide page in real headless Chromium: edgepack's Python tokenizer + onnxruntime-web.

One page is loaded for the module (Pyodide's start-up is the expensive part); each test asks it
something. Python ONNX Runtime on the same build directory is the oracle.
"""

from __future__ import annotations

import json
import shutil

import pytest
from tests.pyodide.pyodide_support import GOLDEN_DIR, TEST_FILES, predict_in_page, run_python
from tests.tokenizer import conformance

from edgepack.runtime.pipeline import Pipeline

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FP32_TOL = 1e-5
RTL_EMOJI = [
    "This movie was great 😀👍🏽",
    "הסרט היה נהדר",  # Hebrew, right-to-left
    "الخدمة كانت سيئة",  # Arabic, right-to-left
    "👨‍👩‍👧‍👦 family 🇺🇦 flag",
    "café naïve ﬁne",  # NFC/NFKC-sensitive characters
    "lone surrogate \ud800 here",
]


@pytest.fixture(scope="module")
def python_ort(sentiment_project):
    return Pipeline.load(sentiment_project / "build")


def _check_against_python(results, texts, python_ort, tol=FP32_TOL):
    expected = python_ort.predict(texts)
    encodings = python_ort.tokenizer.encode_batch(texts)
    assert len(results) == len(texts)
    for text, got, want, enc in zip(texts, results, expected, encodings):
        assert got["input_ids"] == list(enc.ids), text
        assert got["label"] == want["label"], text
        assert list(got["probabilities"]) == list(want["probabilities"]), text
        worst = max(abs(got["probabilities"][k] - want["probabilities"][k]) for k in want["probabilities"])
        assert worst <= tol, f"{text!r}: max |Δ| {worst:.3g} > {tol}"


def test_page_loads_clean_and_offline(loaded, record_property, capsys):
    page, log, url = loaded
    state = page.evaluate("() => ({state: document.body.dataset.state, error: edgepackPyodide.error,"
                          " selfTest: edgepackPyodide.selfTest, startup: edgepackPyodide.startup,"
                          " isolated: crossOriginIsolated})")
    assert state["state"] == "ready", state["error"]
    assert state["selfTest"]["ok"] is True and state["selfTest"]["checked"] >= 1, state["selfTest"]
    assert state["isolated"] is True
    log.assert_clean()
    assert log.requests, "no requests were recorded"
    assert all(r.startswith(url) for r in log.requests)
    # Pyodide fetched its core from the bundle and nothing else of its own (no packages).
    pyodide_requests = sorted({r[len(url):] for r in log.requests if r.startswith(url + "pyodide/")})
    assert pyodide_requests == ["pyodide/pyodide-lock.json", "pyodide/pyodide.asm.mjs", "pyodide/pyodide.asm.wasm",
                                "pyodide/pyodide.mjs", "pyodide/python_stdlib.zip"]
    assert any(r.endswith(".whl") for r in log.requests)
    startup = state["startup"]
    assert 0 < startup["pyodideMs"] <= startup["readyMs"] <= startup["selfTestDoneMs"]
    for key, ms in startup.items():
        record_property(f"pyodide_startup_{key}", round(ms))
    with capsys.disabled():
        print("\nPyodide page start-up (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in startup.items()))
    assert "Start-up:" in page.inner_text("#startup")


def test_runs_edgepacks_python_not_a_port(loaded, pyodide_bundle):
    page, _, _ = loaded
    facts = run_python(page, """
import json, sys, edgepack.runtime.tokenizer as t, browser_pipeline as bp
json.dumps({"tokenizer": t.__file__, "pipeline": bp.__file__, "platform": sys.platform,
            "numpy": "numpy" in sys.modules, "onnxruntime": "onnxruntime" in sys.modules})
""")
    assert facts["tokenizer"].startswith("/lib/python3") and "site-packages/edgepack/runtime/tokenizer" in facts["tokenizer"]
    assert facts["platform"] == "emscripten"
    assert not facts["numpy"] and not facts["onnxruntime"]
    shown = page.inner_text("#code")
    source = (pyodide_bundle / "browser_pipeline.py").read_text(encoding="utf-8")
    assert shown.strip() == source.strip(), "the page must show exactly the Python code it runs"


def test_sample_texts_match_python_onnxruntime(loaded, python_ort, pyodide_bundle):
    page, log, _ = loaded
    manifest = json.loads((pyodide_bundle / "manifest.json").read_text(encoding="utf-8"))
    texts = list(dict.fromkeys(manifest.get("examples", []) + [g["text"] for g in manifest["golden"]]))
    assert len(texts) >= 5
    _check_against_python(predict_in_page(page, texts), texts, python_ort)  # one batch
    _check_against_python([predict_in_page(page, [t])[0] for t in texts[:3]], texts[:3], python_ort)  # singly
    log.assert_clean()


def test_bad_input_empty_long_emoji_rtl(loaded, python_ort):
    page, log, _ = loaded
    long_text = ("great service but the food was cold " * 3000)[:100_000]
    texts = ["", "   ", long_text, *RTL_EMOJI]
    results = predict_in_page(page, texts)
    # Python ORT sees the same text after the page's lone-surrogate rule (U+FFFD), as JSON carries it.
    _check_against_python(results, [t.replace("\ud800", "\ufffd") for t in texts], python_ort)
    assert len(results[2]["input_ids"]) == python_ort.manifest.model["max_length"]
    assert results[0]["input_ids"] == []
    log.assert_clean()


def test_typing_in_the_page(loaded, python_ort):
    page, log, _ = loaded
    text = "The laptop is not reliable at all"
    runs = page.evaluate("() => Number(document.body.dataset.runs || 0)")
    page.fill("#text", text)
    page.wait_for_function("(n) => Number(document.body.dataset.runs || 0) > n", arg=runs)
    page.wait_for_function("(t) => globalThis.edgepackPyodide.last?.text === t", arg=text)
    assert page.inner_text("#label") == python_ort.predict([text])[0]["label"]
    assert page.locator("#bars li").count() == len(python_ort.manifest.labels)
    log.assert_clean()


# The one golden runner (tests/tokenizer/conformance.py), served beside the golden files and
# imported by path inside the page: the same rule as pytest and aarch64.
GOLDEN_CHECK = """
import json
import sys
from pyodide.http import pyfetch
from edgepack.runtime.tokenizer import Tokenizer

async def text(name):
    r = await pyfetch("_test/" + name, cache="no-cache")
    assert r.ok, name
    return await r.string()

with open("/tmp/conformance.py", "w", encoding="utf-8") as f:
    f.write(await text("conformance.py"))
sys.path.insert(0, "/tmp")
import conformance

corpus = conformance.parse_corpus(await text("corpus.jsonl"))
report = {}
for name in NAMES:
    header, cases = conformance.parse_golden(await text(name + ".jsonl"))
    tok = Tokenizer.from_str(await text(header["tokenizer"]), source=header["tokenizer"])
    report[name] = {"cases": len(cases), **conformance.check(tok, corpus, cases)}
json.dumps(report)
"""


def test_python_tokenizer_in_pyodide_matches_golden_files(loaded):
    """The tokenizer inside the page (edgepack's wheel under Pyodide) reproduces HF tokenizers exactly."""
    page, log, _ = loaded
    names = sorted(p.name[: -len(".jsonl")] for p in GOLDEN_DIR.glob("*.jsonl"))
    assert {"sample_wordlevel", "bert_uncased", "bert_cased", "template_pairs", "pad_trunc"} <= set(names)
    report = run_python(page, f"NAMES = {names!r}\n" + GOLDEN_CHECK)
    assert set(report) == set(names)
    for name, r in report.items():
        want = sum(1 for _ in (GOLDEN_DIR / f"{name}.jsonl").open(encoding="ascii")) - 1
        assert r["cases"] == r["checked"] == want > 0, name
        assert r["failure_count"] == 0, conformance.describe(name, r)
    log.assert_clean()
    assert TEST_FILES  # the golden files were served from the page's own origin (see conftest)


def test_a_tampered_wheel_is_refused(browser, pyodide_bundle, tmp_path):
    """The wheel is fetched against the manifest's sha256: an edited runtime never runs."""
    from tests.pyodide.pyodide_support import edgepack_server, open_page

    copy = tmp_path / "tampered"
    shutil.copytree(pyodide_bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    wheel = copy / manifest["targets"]["pyodide"]["wheel"]
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    for suffix in (".br", ".gz"):
        (copy / (manifest["targets"]["pyodide"]["wheel"] + suffix)).unlink(missing_ok=True)
    with edgepack_server(copy) as url, open_page(browser, url) as (page, _):
        assert page.evaluate("() => document.body.dataset.state") == "error"
        error = page.evaluate("() => edgepackPyodide.error")
        assert "edgepack_runtime" in error and ".whl" in error, error
        assert page.is_visible("#error")
