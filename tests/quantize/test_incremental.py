"""Incremental builds (issue 16 item 6): a project whose model folder is the project itself
(`hf = "."`) fingerprints its inputs only -- never its own build/ and dist/, nor tool caches."""

from __future__ import annotations

import shutil
from pathlib import Path


from edgepack.build import build
from edgepack.export import export_fingerprint as fingerprint
from edgepack.project import load_project
from tests.repo_support import REPO

TOML = '''name = "hf-dot"
version = "1.0.0"
task = "feature-extraction"

[model]
hf = "."

[examples]
texts = ["the film was wonderful", "the service was terrible and the food was cold", "the museum opens at 9"]

[quantization]
mode = "dynamic"

# Decided by config, so the build skips the onnxruntime-web probe: this test is about skipping.
[targets.wasm]
precision = "int8"

[targets.rpi]
precision = "int8"
'''


def _hf_dot_project(dest: Path) -> Path:
    shutil.copytree(REPO / "samples" / "minilm-embedder" / "model", dest)
    (dest / "edgepack.toml").write_text(TOML, encoding="utf-8")
    return dest


def test_fingerprint_ignores_outputs_and_caches_but_not_inputs(tmp_path):
    project = load_project(_hf_dot_project(tmp_path / "p"))
    before = fingerprint(project)
    for rel in ("build/model.fp32.onnx", "build/manifest.json", "dist/p-wasm/index.html", "__pycache__/x.pyc",
                ".git/HEAD", "1_Pooling/.ipynb_checkpoints/config.json", ".cache/blob"):
        (project.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (project.root / rel).write_bytes(b"output, not input")
    assert fingerprint(project) == before
    (project.root / "notes.txt").write_text("a new file in the model folder is an input\n")
    assert fingerprint(project) != before
    (project.root / "notes.txt").unlink()
    assert fingerprint(project) == before
    cfg = project.root / "1_Pooling" / "config.json"
    cfg.write_text(cfg.read_text().replace("true", "false", 1))
    assert fingerprint(project) != before


def test_second_build_skips_every_stage(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPACK_WASM_TIMING", "none")
    root = _hf_dot_project(tmp_path / "p")
    first = build(root, target="onnx")
    assert first.stages == {"export": "ran", "quantize": "ran"}
    assert (root / "build" / "model.int8.onnx").is_file()
    manifest = (root / "build" / "manifest.json").read_bytes()
    second = build(root, target="onnx")
    assert second.stages == {"export": "skipped (inputs unchanged)", "quantize": "skipped (inputs unchanged)"}
    assert (root / "build" / "manifest.json").read_bytes() == manifest
