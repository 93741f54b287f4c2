"""Blockwise INT8 weights for MatMul (MatMulNBits, bits = 8) plus int8 Gather tables.

Two recipes of the recovery ladder, both with int8 weights in blocks of 32 along the input
dimension (one scale per block, not per tensor or per output channel):

- ``blockwise``: ``accuracy_level = 4`` -- the kernel quantizes activations to int8 *per block*
  too, so the math is integer and fast, but an outlier only coarsens its own block of 32 instead
  of the whole tensor (dynamic INT8's per-tensor activation scale). Measured on all-MiniLM-L6-v2
  (644 held-out texts, this machine, 2026-12): min cosine 0.998 vs 0.985 for dynamic per-channel,
  24.1 MB vs 22.9 MB, about the same speed.
- ``weight-only``: no accuracy level -- fp32 activations, weights dequantized in the kernel: the
  most accurate, and slower than fp32 at batch 1 on x86 (measured ~3x on MiniLM).

Embedding tables (Gather) are quantized to int8 as the dynamic recipe does (a table lookup has no
activations to quantize; tables under 1 MiB stay fp32, see ops.SMALL_TABLE_BYTES); Gemm, LSTM and
the rest stay fp32.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from edgepack.quantize.ops import small_tables
from edgepack.quantize.prepare import _quiet_logging

BLOCK_SIZE = 32  # the zoo's matrices are 32-64 wide; 32 is the smallest block MatMulNBits handles well
INT8_COMPUTE = 4  # MatMulNBits accuracy_level: int8 activations (per block) x int8 weights


def _quantize(src: Path, dst: Path, exclude: list[str], accuracy_level: int | None) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    half = dst.with_name(dst.stem + ".matmul.onnx")
    with warnings.catch_warnings(), _quiet_logging():
        warnings.simplefilter("ignore")
        q = MatMulNBitsQuantizer(onnx.load(str(src)), bits=8, block_size=BLOCK_SIZE, is_symmetric=True,
                                 accuracy_level=accuracy_level, nodes_to_exclude=list(exclude))
        q.process()
        q.model.save_model_to_file(str(half))
        quantize_dynamic(str(half), str(dst), op_types_to_quantize=["Gather"], weight_type=QuantType.QInt8,
                         nodes_to_exclude=list(exclude) + small_tables(src))
    half.unlink(missing_ok=True)


def blockwise(src: Path, dst: Path, *, per_channel: bool = False, reduce_range: bool = False,
              exclude: list[str] = (), calibration=None) -> dict:
    _quantize(src, dst, list(exclude), INT8_COMPUTE)
    return {"mode": "blockwise", "format": "MatMulNBits (bits 8, accuracy_level 4) + int8 Gather",
            "weight_type": f"int8 (blocks of {BLOCK_SIZE})", "activation_type": f"int8 (per block of {BLOCK_SIZE})",
            "per_channel": False, "reduce_range": False, "op_types": ["MatMul", "Gather"], "block_size": BLOCK_SIZE}


def weight_only(src: Path, dst: Path, *, per_channel: bool = False, reduce_range: bool = False,
                exclude: list[str] = (), calibration=None) -> dict:
    _quantize(src, dst, list(exclude), None)
    return {"mode": "weight-only", "format": "MatMulNBits (bits 8) + int8 Gather",
            "weight_type": f"int8 (blocks of {BLOCK_SIZE})", "activation_type": "float32",
            "per_channel": False, "reduce_range": False, "op_types": ["MatMul", "Gather"], "block_size": BLOCK_SIZE}
