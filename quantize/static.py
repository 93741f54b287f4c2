"""Static INT8 in QDQ form with calibrated activation ranges (convolutional models).

QDQ (QuantizeLinear/DequantizeLinear pairs around fp32 ops) is the form every target runs: ORT
fuses it into int8 kernels where it has them (QLinearConv, QLinearMatMul) and falls back to fp32
math where it does not, whereas the QOperator/dynamic form for Conv is ConvInteger (see ops.py).
Activations are uint8 (asymmetric, the u8s8 MLAS path), weights int8, per-channel for Conv.
Calibration ranges are computed once and cached in a scratch file, so the per-node fallback
re-quantizes without re-running calibration.
The recovery ladder (ladder.py) also tries this form for encoders that start dynamic.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable

import numpy as np

from edgepack.quantize.ops import STATIC_OPS, small_tables
from edgepack.quantize.prepare import _quiet_logging


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over a list of feeds (one text each)."""

    def __init__(self, feeds: Iterable[dict[str, np.ndarray]]):
        self._feeds = list(feeds)
        self._it = iter(self._feeds)

    def get_next(self):
        return next(self._it, None)

    def rewind(self):
        self._it = iter(self._feeds)


def quantize(src: Path, dst: Path, *, per_channel: bool, reduce_range: bool = False, exclude: list[str] = (),
             calibration: list[dict[str, np.ndarray]] | None = None) -> dict:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    tables = small_tables(src)
    cache = src.with_name(src.stem + ".calibration.json")
    reader = None if cache.is_file() else _Reader(calibration or [])
    with warnings.catch_warnings(), _quiet_logging():
        warnings.simplefilter("ignore")
        quantize_static(str(src), str(dst), calibration_data_reader=reader, quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(STATIC_OPS), per_channel=per_channel, reduce_range=reduce_range,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=list(exclude) + tables,
                        calibration_cache_path=str(cache),
                        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
    return {"mode": "static", "format": "QDQ", "weight_type": "int8", "activation_type": "uint8 (calibrated, MinMax)",
            "per_channel": per_channel, "reduce_range": reduce_range, "op_types": list(STATIC_OPS),
            "calibration_texts": len(calibration or []), "small_tables_fp32": tables}
