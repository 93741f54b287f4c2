"""Dynamic INT8: int8 weights, activations quantized at run time (recurrent and Transformer models)."""

from __future__ import annotations

import warnings
from pathlib import Path

from edgepack.quantize.ops import DYNAMIC_OPS, small_matrices, small_tables
from edgepack.quantize.prepare import _quiet_logging


def quantize(src: Path, dst: Path, *, per_channel: bool, reduce_range: bool = False, exclude: list[str] = (),
             calibration=None) -> dict:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    import onnx

    graph = onnx.load(str(src), load_external_data=False)  # read once for both choices
    tables, matrices = small_tables(graph), small_matrices(graph)
    with warnings.catch_warnings(), _quiet_logging():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(src), str(dst), op_types_to_quantize=list(DYNAMIC_OPS), per_channel=per_channel,
                         reduce_range=reduce_range, weight_type=QuantType.QInt8,
                         nodes_to_exclude=_with_split_gemms(list(exclude) + tables + matrices))
    as_sum = _keep_layernorm_unfused(dst)
    # uint8 activations are what DynamicQuantizeLinear produces; MatMulInteger u8s8 is the fast MLAS path.
    return {"mode": "dynamic", "format": "QOperator", "weight_type": "int8", "activation_type": "uint8 (dynamic)",
            "per_channel": per_channel, "reduce_range": reduce_range, "op_types": list(DYNAMIC_OPS),
            "small_tables_fp32": tables, "small_matrices_fp32": matrices, "layernorm_adds_as_sum": as_sum}


def _with_split_gemms(names: list[str]) -> list[str]:
    """quantize_dynamic first splits each Gemm into ``<name>_MatMul`` + ``<name>_Add`` (its
    onnx_model.py) and then matches nodes_to_exclude against the new names: a Gemm excluded by its
    own name was quantized anyway (seen on the sample LSTM's head). Both names are passed."""
    return names + [n + "_MatMul" for n in names if n]


def _keep_layernorm_unfused(path: Path) -> int:
    """Residual Adds into LayerNormalization written as Sum: ORT's SkipLayerNormalization fusion was
    12-15% slower on dynamic INT8 encoders (edgepack.graph_cleanup.adds_into_layernorm_as_sum)."""
    import onnx

    from edgepack.graph_cleanup import adds_into_layernorm_as_sum

    model = onnx.load(str(path))
    done = adds_into_layernorm_as_sum(model)
    if done:
        onnx.save(model, str(path))
    return done
