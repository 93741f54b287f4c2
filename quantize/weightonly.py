"""INT8 weights with fp32 activations (weight-only): MatMulNBits with bits = 8.

The last rung of the recovery ladder: weights are stored as 8-bit blocks and dequantized inside
the kernel, activations stay fp32, so accuracy is close to fp32 and the file is close to dynamic
INT8's size, but the math is fp32 (no MatMulInteger speed-up). Only MatMul nodes with constant
weights are converted; Gemm, LSTM and the rest stay fp32.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from edgepack.quantize.prepare import _quiet_logging

BLOCK_SIZE = 32  # the zoo's matrices are 32-64 wide; 32 is the smallest block MatMulNBits handles well


def quantize(src: Path, dst: Path, *, per_channel: bool = False, reduce_range: bool = False,
             exclude: list[str] = (), calibration=None) -> dict:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    with warnings.catch_warnings(), _quiet_logging():
        warnings.simplefilter("ignore")
        q = MatMulNBitsQuantizer(onnx.load(str(src)), bits=8, block_size=BLOCK_SIZE, is_symmetric=True,
                                 nodes_to_exclude=list(exclude))
        q.process()
        q.model.save_model_to_file(str(dst))
    return {"mode": "weight-only", "format": "MatMulNBits", "weight_type": "int8 (blockwise, 32)",
            "activation_type": "float32", "per_channel": False, "reduce_range": False, "op_types": ["MatMul"],
            "block_size": BLOCK_SIZE}
