"""Export at its edges: stdout stays one JSON document, quantized models are kept or removed out loud,
weights files and vocabularies are checked before any export work."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.repo_support import copy_sample, fresh_copy, run_cli
from edgepack.errors import ModelLoadError
from edgepack.export import export_project
from edgepack.project import load_project
from edgepack.runtime.manifest import load_manifest
from edgepack.runtime.pipeline import Pipeline
from edgepack.sources import build_module

TINY_MODEL = '''
import os, sys
import torch


class Tiny(torch.nn.Module):
    def __init__(self, rows=367, noisy=False, failing=False):
        super().__init__()
        self.emb = torch.nn.Embedding(rows, 4)
        self.fc = torch.nn.Linear(4, 3)
        self.noisy, self.failing = noisy, failing

    def forward(self, input_ids, attention_mask):
        if self.noisy:  # user code that prints, from Python and straight to the file descriptor
            print("model says hello on stdout")
            os.write(1, b"fd-level noise on stdout\\n")
        mask = attention_mask.unsqueeze(-1).float()
        x = (self.emb(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1)
        if self.failing:  # eigh has no ONNX export: torch dumps "Torch IR graph at exception" on stdout
            return torch.linalg.eigh(x.T @ x)[0][:3].expand(x.shape[0], 3)
        return self.fc(x)
'''


def _tiny_project(tmp_path: Path, rows: int = 367, args: str = "", exporter: str | None = None) -> Path:
    project = copy_sample("sentiment", tmp_path)
    (project / "tiny.py").write_text(TINY_MODEL)
    torch.manual_seed(0)
    state = {"emb.weight": torch.randn(rows, 4), "fc.weight": torch.randn(3, 4), "fc.bias": torch.zeros(3)}
    save_file(state, str(project / "tiny.safetensors"))
    cfg = project / "edgepack.toml"
    text = cfg.read_text()
    start, end = text.index("[model]"), text.index("[examples]")
    model = f'[model]\nfactory = "tiny.py:Tiny"\nweights = "tiny.safetensors"\nargs = {{ rows = {rows}{args} }}\n'
    if exporter:
        model += f'\n[export]\nexporter = "{exporter}"\n'
    cfg.write_text(text[:start] + model + "\n" + text[end:])
    return project


# -- stdout ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_failing_export_json_is_exactly_one_document(tmp_path, exporter):
    project = _tiny_project(tmp_path, args=", noisy = true, failing = true", exporter=exporter)
    result = run_cli("export", str(project), "--json")
    assert result.returncode == 3, result.stderr
    doc = json.loads(result.stdout)  # raises if anything else reached stdout
    assert doc["ok"] is False and doc["error"]["type"] == "ExportError"
    assert "tiny.py:Tiny" in doc["error"]["message"]
    assert "fd-level noise" in result.stderr and "model says hello" in result.stderr  # moved, not lost
    assert "Traceback" not in result.stderr
    if exporter == "torchscript":
        assert "Torch IR graph at exception" in result.stderr


def test_successful_export_json_with_a_printing_model(tmp_path):
    project = _tiny_project(tmp_path, args=", noisy = true")
    result = run_cli("export", str(project), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["parity"]["fp32"]["ok"] is True and doc["removed"] == []
    assert "fd-level noise" in result.stderr


def test_stdout_is_restored_after_export(tmp_path, capfd):
    project = _tiny_project(tmp_path, args=", noisy = true")
    export_project(project)
    print("after export")
    out, err = capfd.readouterr()
    assert out == "after export\n"
    assert "model says hello" in err


# -- the vocabulary against the embedding, before export -------------------------------------------

def test_tokenizer_larger_than_the_embedding_is_refused_before_export(tmp_path):
    project = _tiny_project(tmp_path, rows=300)
    with pytest.raises(ModelLoadError, match=r"tokenizer.json: tokenizer ids go up to 366 .* but the model's "
                                             r"embedding \(nn.Embedding 'emb'\) has 300 rows"):
        export_project(project)
    result = run_cli("export", str(project), "--json")
    assert result.returncode == 2 and json.loads(result.stdout)["error"]["type"] == "ModelLoadError"
    assert "exporting to ONNX" not in result.stderr  # refused before the exporter ran
    assert not (project / "build").exists()


def test_larger_embedding_than_tokenizer_is_fine(tmp_path):
    project = _tiny_project(tmp_path, rows=400)
    assert export_project(project).parity.ok


# -- weights files -------------------------------------------------------------------------------

@pytest.fixture
def sentiment(tmp_path) -> Path:
    return copy_sample("sentiment", tmp_path)


def _use_weights(project: Path, name: str) -> None:
    cfg = project / "edgepack.toml"
    cfg.write_text(cfg.read_text().replace('weights = "model.safetensors"', f'weights = "{name}"'))


@pytest.mark.parametrize("extra,pattern", [
    ({"step": 3}, r"key 'step' holds a int, not a tensor"),
    ({"names": ["a", "b"]}, r"key 'names' holds a list, not a tensor"),
    ({"optimizer": {"lr": torch.tensor(1.0)}}, r"key 'optimizer' holds a nested dict.*training checkpoint"),
    ({"embedding.weight": torch.zeros(367, 64, dtype=torch.complex64)}, r"complex64 tensor"),
])
def test_pt_state_dict_values_must_be_tensors(sentiment, extra, pattern):
    state = load_file(str(sentiment / "model.safetensors"))
    torch.save({**state, **extra}, sentiment / "model.pt")
    _use_weights(sentiment, "model.pt")
    with pytest.raises(ModelLoadError, match=pattern):
        build_module(load_project(sentiment))


def test_pt_checkpoint_wrapping_the_state_dict(sentiment):
    state = load_file(str(sentiment / "model.safetensors"))
    torch.save({"model": state, "epoch": 4}, sentiment / "model.pt")
    _use_weights(sentiment, "model.pt")
    result = run_cli("export", str(sentiment))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "key 'model' holds a nested dict" in result.stderr


@pytest.mark.parametrize("damage", ["truncated", "garbage", "huge-header", "header-not-json", "empty", "pt-truncated"])
def test_broken_weights_files_are_typed_errors(sentiment, damage):
    good = (sentiment / "model.safetensors").read_bytes()
    name = "model.pt" if damage.startswith("pt") else "model.safetensors"
    if damage == "pt-truncated":
        torch.save(load_file(str(sentiment / "model.safetensors")), sentiment / "full.pt")
        full = (sentiment / "full.pt").read_bytes()
        data = full[: len(full) // 2]
    else:
        data = {"truncated": good[: len(good) // 3], "garbage": bytes(range(256)) * 64,
                "huge-header": struct.pack("<Q", 2 ** 60) + b"{}",
                "header-not-json": struct.pack("<Q", 16) + b"\xff" * 16 + b"\0" * 64, "empty": b""}[damage]
    (sentiment / name).write_bytes(data)
    _use_weights(sentiment, name)
    with pytest.raises(ModelLoadError, match=rf"{name}"):
        build_module(load_project(sentiment))


# -- quantized models in build/ --------------------------------------------------------------------

@pytest.fixture(scope="module")
def quantized(built_sample) -> Path:
    """A build with model.int8.onnx (real quantize, from the shared cache; read-only)."""
    project = built_sample("sentiment", "quantize")
    assert (project / "build" / "model.int8.onnx").is_file()
    return project


def test_unchanged_fp32_keeps_the_quantized_model(quantized, tmp_path):
    project = fresh_copy(quantized, tmp_path)
    before = load_manifest(project / "build")
    int8 = (project / "build" / "model.int8.onnx").read_bytes()
    doc = export_project(project).as_dict()
    assert doc["kept"] == ["model.int8.onnx"] and doc["removed"] == []
    assert (project / "build" / "model.int8.onnx").read_bytes() == int8
    after = load_manifest(project / "build", verify=True)  # verifies every file's sha256
    assert after.data["precisions"]["int8"] == before.data["precisions"]["int8"]
    assert after.data["stages"]["quantize"] == before.data["stages"]["quantize"]
    assert after.data["parity"]["int8"] == before.data["parity"]["int8"]
    assert Pipeline.load(project / "build", precision="int8").self_test().ok


def test_changed_fp32_removes_the_quantized_model_out_loud(quantized, tmp_path):
    project = fresh_copy(quantized, tmp_path)
    state = load_file(str(project / "model.safetensors"))
    state["fc.bias"] = state["fc.bias"] + 0.01
    save_file(state, str(project / "model.safetensors"))
    result = run_cli("export", str(project), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["removed"] == ["model.int8.onnx"] and doc["kept"] == []
    assert "removed model.int8.onnx" in result.stderr and "fp32 model changed" in result.stderr
    assert "edgepack quantize" in result.stderr
    assert not (project / "build" / "model.int8.onnx").exists()
    manifest = load_manifest(project / "build", verify=True)
    assert set(manifest.data["precisions"]) == {"fp32"}
    assert "quantize" not in manifest.data["stages"] and "int8" not in manifest.data["parity"]
    assert all(set(g["outputs"]) == {"fp32"} for g in manifest.data["golden"])
