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


def test_small_embedding_tables_stay_fp32_and_the_manifest_says_so(zoo_built):
    """An int8 lookup adds a DequantizeLinear per call: under ops.SMALL_TABLE_BYTES it costs more
    time than its bytes save, so the sample LSTM's 367 x 64 table stays fp32 (its LSTM is int8)."""
    import json

    build = zoo_built("sentiment") / "build"
    model = onnx.load(str(build / "model.int8.onnx"))
    fp32 = {i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    table = next(n for n in model.graph.node if n.name == "/inner/embedding/Gather")
    assert table.input[0] in fp32
    assert "DynamicQuantizeLSTM" in ops.op_counts(model)
    section = json.loads((build / "manifest.json").read_text())["quantization"]
    assert section["small_tables_fp32"] == ["/inner/embedding/Gather"]
    # the 128 x 3 head too (ops.SMALL_MATRIX_WEIGHTS), really fp32: quantize_dynamic renames a Gemm
    # before matching its exclusions, and a Gemm excluded by its own name used to be quantized anyway
    assert section["small_matrices_fp32"] == ["/inner/fc/Gemm"]
    assert not {"MatMulInteger", "DynamicQuantizeLinear"} & set(ops.op_counts(model))


def test_small_tables_picks_gathers_by_table_size(tmp_path):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    big = numpy_helper.from_array(np.zeros((ops.SMALL_TABLE_BYTES // 4 // 8, 8), np.float32), "big")  # exactly the limit
    small = numpy_helper.from_array(np.zeros((10, 8), np.float32), "small")
    nodes = [helper.make_node("Gather", ["big", "ids"], ["a"], name="g_big"),
             helper.make_node("Gather", ["small", "ids"], ["b"], name="g_small"),
             helper.make_node("Gather", ["a", "ids"], ["c"], name="g_activation")]  # not a constant table
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in "bc"], [big, small])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    assert ops.small_tables(path) == ["g_small"]


def test_small_matrices_are_kept_fp32_only_when_something_larger_is_quantized(tmp_path):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def model(*shapes):
        inits = [numpy_helper.from_array(np.zeros(s, np.float32), f"w{k}") for k, s in enumerate(shapes)]
        nodes = [helper.make_node("MatMul", ["x" if k == 0 else f"y{k - 1}", f"w{k}"], [f"y{k}"], name=f"m{k}")
                 for k in range(len(shapes))]
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, shapes[0][0]])],
                                  [helper.make_tensor_value_info(f"y{len(shapes) - 1}", TensorProto.FLOAT, None)], inits)
        path = tmp_path / f"m{len(shapes)}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
        return path

    assert ops.small_matrices(model((32, 32), (32, 3))) == ["m1"]  # 1,024 weights stay int8, 96 do not
    assert ops.small_matrices(model((8, 3))) == []  # nothing larger: INT8 keeps the small one
