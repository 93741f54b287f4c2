"""Per-target op support: the form chosen must run where it ships."""

from __future__ import annotations

import onnx

from edgepack.quantize import ops
from edgepack.quantize.prepare import preprocess


def test_dynamic_conv_would_emit_convinteger_which_wasm_cannot_run(zoo_built, tmp_path):
    """Why convolutional models go static: quantize_dynamic on Conv writes ConvInteger."""
    from onnxruntime.quantization import quantize_dynamic

    src = zoo_built("textcnn") / "build" / "model.fp32.onnx"
    pre = tmp_path / "pre.onnx"
    preprocess(src, pre)
    assert ops.choose_mode(onnx.load(str(pre))) == "static"
    out = tmp_path / "dynamic-conv.onnx"
    quantize_dynamic(str(pre), str(out), op_types_to_quantize=["Conv"])
    model = onnx.load(str(out))
    assert "ConvInteger" in ops.op_counts(model)
    assert "ConvInteger" in ops.unsupported_ops(model, "wasm")
    assert "ConvInteger" in ops.unsupported_ops(model, "cpu")


def test_shipped_int8_models_hold_only_supported_ops(zoo_built):
    for name in ("textcnn", "sentiment"):
        model = onnx.load(str(zoo_built(name) / "build" / "model.int8.onnx"))
        for target in ops.TARGETS:
            assert ops.unsupported_ops(model, target) == {}, (name, target)
