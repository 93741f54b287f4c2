"""The runtime must run where torch and onnx do not exist (a Pi, Pyodide)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.isolation_support import BLOCKER


def test_runtime_imports_and_runs_without_torch_or_onnx(sentiment_project):
    code = BLOCKER + textwrap.dedent(
        f"""
        import edgepack.runtime, edgepack.runtime.pipeline, edgepack.runtime.tokenizer, edgepack.runtime.session
        from edgepack.runtime.pipeline import Pipeline
        pipe = Pipeline.load({str(sentiment_project / "build")!r})
        assert pipe.self_test().ok
        print(pipe.predict(["This movie was really great and amazing"])[0]["label"])
        bad = [m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "onnxscript")]
        assert not bad, bad
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Positive"


def test_blocker_really_blocks():
    code = BLOCKER + "import torch\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "blocked in this test" in result.stderr
