"""As a user runs it: `edgepack build PROJECT --target pyodide`, then `edgepack serve`, then Chromium.

The full build runs the quantize stage, so the page ships the precision the gates chose (int8 for
the sentiment sample today) and is held to that precision's tolerance.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.pyodide.pyodide_support import open_page, predict_in_page

from edgepack.runtime.artifacts import PRECISION_TOLERANCE
from edgepack.runtime.pipeline import Pipeline

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "edgepack.cli", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=600, **kw)


def test_build_serve_and_run(tmp_path, browser):
    project = tmp_path / "sentiment"
    shutil.copytree(REPO / "samples" / "sentiment", project, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    proc = _cli("build", str(project), "--target", "pyodide", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    bundle = Path(result["artifact"]["directory"])
    assert bundle == project / "dist" / "sentiment-pyodide"
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    precision = result["artifact"]["precision"]
    build_targets = json.loads((project / "build" / "manifest.json").read_text(encoding="utf-8")).get("targets") or {}
    chosen = (build_targets.get("pyodide") or build_targets.get("wasm") or {}).get("precision", "fp32")
    assert precision == chosen == manifest["default_precision"]

    server = subprocess.Popen([sys.executable, "-m", "edgepack.cli", "serve", str(bundle), "--port", "0"],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=REPO)
    try:
        url = None
        for _ in range(5):  # click's echo line first, then the server's "serving ... at URL"
            line = server.stderr.readline()
            found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found.group(1)
                break
        assert url, "edgepack serve did not print its URL"
        with open_page(browser, url) as (page, log):
            state = page.evaluate("() => ({error: edgepackPyodide.error, selfTest: edgepackPyodide.selfTest})")
            assert state["error"] is None
            assert state["selfTest"]["ok"] is True and state["selfTest"]["precision"] == precision
            texts = manifest["examples"] + ["", "🙂 مرحبا"]
            got = predict_in_page(page, texts)
            want = Pipeline.load(project / "build", precision=precision).predict(texts)
            tol = PRECISION_TOLERANCE[precision]
            for text, g, w in zip(texts, got, want):
                assert g["label"] == w["label"], text
                worst = max(abs(g["probabilities"][k] - w["probabilities"][k]) for k in w["probabilities"])
                assert worst <= tol, f"{text!r}: {precision} max |Δ| {worst:.3g} > {tol}"
            log.assert_clean()
    finally:
        server.terminate()
        server.wait(timeout=10)
