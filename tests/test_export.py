"""Export of the seed sample: parity, manifest, checksums, atomicity, build skipping."""

from __future__ import annotations

import json
import os
import shutil

import onnx
import pytest

from tests.repo_support import copy_sample, run_cli
from edgepack.build import build
from edgepack.errors import OutputError, ParityError
from edgepack.export import export_project
from edgepack.runtime.hashing import sha256_file
from edgepack.runtime.manifest import load_manifest
from edgepack.runtime.pipeline import Pipeline


def test_build_dir_has_plain_mkdir_permissions(sentiment_project):
    mask = os.umask(0)
    os.umask(mask)
    assert (sentiment_project / "build").stat().st_mode & 0o777 == 0o777 & ~mask


def test_manifest_checksums_match_files(sentiment_project):
    build_dir = sentiment_project / "build"
    manifest = json.loads((build_dir / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert set(manifest["files"]) == {"model.fp32.onnx", "tokenizer.json"}
    for rel, meta in manifest["files"].items():
        assert sha256_file(build_dir / rel) == meta["sha256"]
        assert (build_dir / rel).stat().st_size == meta["bytes"]
    assert manifest["tokenizer"]["sha256"] == manifest["files"]["tokenizer.json"]["sha256"]
    assert manifest["model"]["labels"] == ["Negative", "Neutral", "Positive"]
    assert [i["name"] for i in manifest["inputs"]] == ["input_ids", "attention_mask"]
    assert manifest["outputs"][0]["name"] == "probabilities"
    assert manifest["outputs"][0]["shape"][1] == 3
    for tool in ("edgepack", "torch", "onnx", "onnxruntime", "python"):
        assert tool in manifest["tools"]
    parity = manifest["parity"]["fp32"]
    assert parity["ok"] and parity["cases"] >= 64 + 5
    assert parity["outputs"]["probabilities"]["max_abs_diff"] <= 1e-5


def test_onnx_graph_is_valid_with_dynamic_axes_and_softmax(sentiment_project):
    model = onnx.load(str(sentiment_project / "build" / "model.fp32.onnx"))
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert "Softmax" in ops and "LSTM" in ops
    # the exporter's zero initial state (Shape ... ConstantOfShape) is dropped: ONNX's default is zeros
    assert "ConstantOfShape" not in ops, "edgepack.graph_cleanup did not run on the export"
    lstm = next(n for n in model.graph.node if n.op_type == "LSTM")
    assert len(lstm.input) <= 5
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        assert dims[0].dim_param and dims[1].dim_param  # dynamic batch and sequence


def test_golden_vectors_reproduce(sentiment_project):
    pipe = Pipeline.load(sentiment_project / "build")
    report = pipe.self_test()
    assert report.ok, report.failures
    assert report.checked >= 6
    golden = load_manifest(sentiment_project / "build").golden
    assert any(g["text"] == "" for g in golden)


def test_probabilities_and_batch_consistency(sentiment_project):
    pipe = Pipeline.load(sentiment_project / "build")
    texts = ["This movie was really great and amazing", "The service was terrible",
             "The museum opens at 9 o'clock", ""]
    batch = pipe.predict(texts)
    assert [r["label"] for r in batch[:3]] == ["Positive", "Negative", "Neutral"]
    for text, row in zip(texts, batch):
        alone = pipe.predict([text])[0]
        assert abs(sum(row["probabilities"].values()) - 1) < 1e-5
        for label in row["probabilities"]:
            assert abs(alone["probabilities"][label] - row["probabilities"][label]) < 1e-5


def test_tampered_model_is_refused(sentiment_project, tmp_path):
    copy = tmp_path / "build"
    shutil.copytree(sentiment_project / "build", copy)
    data = bytearray((copy / "model.fp32.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model.fp32.onnx").write_bytes(bytes(data))
    from edgepack.errors import ArtifactError

    with pytest.raises(ArtifactError, match=r"model.fp32.onnx: sha256 does not match"):
        Pipeline.load(copy)


def test_failed_export_leaves_previous_build(sentiment_project, tmp_path):
    project = copy_sample("sentiment", tmp_path)
    shutil.copytree(sentiment_project / "build", project / "build")
    before = {p.name: p.read_bytes() for p in (project / "build").iterdir()}
    # A forward pass with random noise: torch and ONNX Runtime draw different numbers, so parity
    # fails every time (a forced failure, not one that depends on float kernels disagreeing).
    with (project / "model.py").open("a", encoding="utf-8") as f:
        f.write("\n\nclass NoisySentiment(SentimentClassifier):\n"
                "    def forward(self, input_ids, attention_mask):\n"
                "        out = super().forward(input_ids, attention_mask)\n"
                "        return out + 1e-2 * torch.rand_like(out)\n")
    cfg = project / "edgepack.toml"
    cfg.write_text(cfg.read_text().replace("model.py:SentimentClassifier", "model.py:NoisySentiment"))
    with pytest.raises(ParityError, match=r"max \|Δ\|"):
        export_project(project)
    after = {p.name: p.read_bytes() for p in (project / "build").iterdir()}
    assert after == before
    assert not [p for p in project.iterdir() if p.name.startswith(".build.tmp-")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_dir_nonroot(sentiment_project, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(OutputError):
        export_project(sentiment_project, out=locked / "build")


def test_unwritable_output_dir(sentiment_project, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_cli("export", str(sentiment_project), "--out", str(blocker / "build"))
    assert result.returncode == 8, result.stderr
    assert "cannot create the output directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_build_skips_unchanged_export(sentiment_project):
    first = build(sentiment_project, target="onnx")
    assert first.stages["export"].startswith("skipped")
    mtime = (sentiment_project / "build" / "model.fp32.onnx").stat().st_mtime_ns
    again = build(sentiment_project, target="onnx")
    assert again.stages["export"].startswith("skipped")
    assert (sentiment_project / "build" / "model.fp32.onnx").stat().st_mtime_ns == mtime


def test_build_reruns_when_inputs_change(tmp_path, sentiment_project):
    project = copy_sample("sentiment", tmp_path)
    shutil.copytree(sentiment_project / "build", project / "build")
    assert build(project).stages["export"].startswith("skipped")
    cfg = project / "edgepack.toml"
    cfg.write_text(cfg.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    result = build(project)
    assert result.stages["export"] == "ran"
    assert load_manifest(project / "build").model["version"] == "1.0.1"


def test_onnx_source_project(tmp_path, sentiment_project):
    project = copy_sample("sentiment", tmp_path)
    shutil.copy(sentiment_project / "build" / "model.fp32.onnx", project / "given.onnx")
    cfg = project / "edgepack.toml"
    text = cfg.read_text()
    start = text.index("[model]")
    end = text.index("[examples]")
    cfg.write_text(text[:start] + '[model]\nonnx = "given.onnx"\n\n' + text[end:])
    result = export_project(project)
    assert "skipped" in result.manifest["parity"]["fp32"]
    assert Pipeline.load(project / "build").self_test().ok


def test_export_cli_json(sentiment_project, tmp_path):
    out = tmp_path / "out"
    result = run_cli("export", str(sentiment_project), "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["parity"]["fp32"]["ok"] is True
    assert "✓ probabilities" in result.stderr  # the per-output report goes to stderr
    assert (out / "manifest.json").is_file()
