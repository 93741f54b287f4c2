"""Bad input: nothing to quantize, a corrupt fp32 file, unusable calibration files, bad settings."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper

from edgepack.errors import EdgepackError, ProjectError, QuantizationError
from edgepack.quantize import quantize_project
from edgepack.quantize.prepare import load_onnx
from tests.quantize.zoo_support import file_bytes, set_quantization
from tests.repo_support import REPO, fresh_copy


def _weightless_project(tmp_path):
    """An [model] onnx project whose graph has no weights at all: probabilities from mask sums."""
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("ReduceSum", ["attention_mask", "axes"], ["n"], keepdims=1),
        helper.make_node("Cast", ["n"], ["nf"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["nf", "nf", "nf"], ["logits"], axis=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        helper.make_node("Identity", ["input_ids"], ["unused"]),
    ]
    graph = helper.make_graph(
        nodes, "weightless",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])], [axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    root = tmp_path / "weightless"
    root.mkdir()
    onnx.save(model, str(root / "model.onnx"))
    (root / "tokenizer.json").write_bytes((REPO / "samples/sentiment/tokenizer.json").read_bytes())
    (root / "edgepack.toml").write_text(
        'name = "weightless"\nversion = "1.0.0"\ntask = "text-classification"\nlabels = ["a", "b", "c"]\n'
        'max_length = 16\ntokenizer = "tokenizer.json"\n\n[model]\nonnx = "model.onnx"\n\n'
        '[examples]\ntexts = ["hello there", "the food was great"]\n')
    return root


def test_nothing_to_quantize_is_an_error_not_a_success(tmp_path):
    project = _weightless_project(tmp_path)
    with pytest.raises(QuantizationError, match="nothing was quantized") as info:
        quantize_project(project)
    assert "model.fp32.onnx" in str(info.value) and "Nothing was written" in str(info.value)
    assert not (project / "build" / "model.int8.onnx").exists()
    assert "quantization" not in json.loads((project / "build" / "manifest.json").read_text())


def test_corrupt_fp32_model_is_refused_and_nothing_is_written(zoo_built, tmp_path):
    project = fresh_copy(zoo_built("gru"), tmp_path)
    model = project / "build" / "model.fp32.onnx"
    model.write_bytes(model.read_bytes()[:5000])  # truncated download / disk error
    before = file_bytes(project / "build")
    with pytest.raises(EdgepackError) as info:
        quantize_project(project)
    assert "model.fp32.onnx" in str(info.value)
    assert file_bytes(project / "build") == before


def test_corrupt_onnx_bytes_name_the_file(tmp_path):
    path = tmp_path / "model.fp32.onnx"
    path.write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(QuantizationError, match=r"model\.fp32\.onnx: not a valid ONNX model"):
        load_onnx(path)


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"\n  \n", "is empty"),
                                              (b"caf\xe9 ok\n", "is not UTF-8")])
def test_unusable_calibration_file(zoo_built, tmp_path, content, message):
    project = fresh_copy(zoo_built("textcnn"), tmp_path)
    before = file_bytes(project / "build")
    cal = tmp_path / "calibration.txt"
    cal.write_bytes(content)
    with pytest.raises(QuantizationError, match=message) as info:
        quantize_project(project, calibration=cal)
    assert "calibration.txt" in str(info.value)
    assert file_bytes(project / "build") == before


def test_missing_calibration_file_from_toml(zoo_built, tmp_path):
    project = fresh_copy(zoo_built("textcnn"), tmp_path)
    set_quantization(project, calibration="nope.txt")
    # caught when the project loads, before any quantization work
    with pytest.raises(ProjectError, match=r"\[quantization\] calibration: nope.txt does not exist"):
        quantize_project(project)


@pytest.mark.parametrize("values, message", [({"mode": "fast"}, "mode"), ({"min_agreement": 1.5}, "min_agreement"),
                                             ({"extra_precisions": ["int2"]}, "extra_precisions"),
                                             ({"exclude_nodes": ["/no/such/Node"]}, "exclude_nodes")])
def test_bad_settings_name_the_key(zoo_built, tmp_path, values, message):
    project = fresh_copy(zoo_built("gru"), tmp_path)
    set_quantization(project, **values)
    with pytest.raises(ProjectError, match=message):
        quantize_project(project)
