"""Optional precisions: fp16 (weights and math in half precision, fp32 inputs/outputs) and int4
(MatMulNBits: 4-bit blockwise weights for MatMul, the rest fp32). Both pass the same accuracy gate
as INT8 before they are written; a failing one is reported and left out.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from edgepack.quantize.prepare import _quiet_logging

INT4_BLOCK_SIZE = 32  # the smallest block MatMulNBits supports well; the zoo's matrices are 32-64 wide


def fp16(src: Path, dst: Path) -> dict:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with warnings.catch_warnings(), _quiet_logging():
        warnings.simplefilter("ignore")
        # keep_io_types: callers keep feeding int64 ids and reading float32 probabilities.
        model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))
    return {"mode": "fp16", "keep_io_types": True}


def int4(src: Path, dst: Path) -> dict:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    with warnings.catch_warnings(), _quiet_logging():
        warnings.simplefilter("ignore")
        quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), block_size=INT4_BLOCK_SIZE, is_symmetric=True)
        quantizer.process()
        quantizer.model.save_model_to_file(str(dst))
    nodes = sum(n.op_type == "MatMulNBits" for n in onnx.load(str(dst)).graph.node)
    return {"mode": "int4", "op": "MatMulNBits", "block_size": INT4_BLOCK_SIZE, "nodes_int4": nodes}


BUILDERS = {"fp16": fp16, "int4": int4}
