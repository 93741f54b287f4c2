"""Per-target op support: the form chosen must run where it ships."""

from __future__ import annotations

import onnx

from edgepack.quantize import ops
from edgepack.quantize.prepare import preprocess
from edgepack.runtime.session import create_session


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
    # Older onnxruntime (the rpi package may pin one) has no int8-weight ConvInteger kernel ...
    assert "ConvInteger" in ops.unsupported_ops(model, "rpi")
    # ... while this machine's does (microsoft/onnxruntime#26585): if this starts failing, the
    # table in ops.py needs the gap for cpu too.
    assert ops.unsupported_ops(model, "cpu") == {}
    create_session(out)


def test_shipped_int8_models_hold_only_supported_ops(zoo_built):
    for name in ("textcnn", "sentiment"):
        model = onnx.load(str(zoo_built(name) / "build" / "model.int8.onnx"))
        for target in ops.TARGETS:
            assert ops.unsupported_ops(model, target) == {}, (name, target)
