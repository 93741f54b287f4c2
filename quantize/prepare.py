"""Loading the fp32 model and ONNX Runtime's quantization pre-processing.

``quant_pre_process`` runs symbolic shape inference, ORT's basic graph optimisations and ONNX
shape inference: the quantizer can only quantize tensors whose shapes it knows. Symbolic shape
inference fails on some exported graphs (measured here: the Transformer sample's attention
reshapes), so a second try skips it; if both fail, the raw model is quantized and the report says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path

from edgepack.errors import QuantizationError


def load_onnx(path: Path):
    import onnx

    if not path.is_file():
        raise QuantizationError(f"{path}: not found; run `edgepack export {path.parent.parent}` first")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QuantizationError(
            f"{path}: not a valid ONNX model ({first}); re-run `edgepack export` to rebuild it. Nothing was written."
        ) from None
    return model


def preprocess(src: Path, dst: Path) -> str:
    """Write the pre-processed model to ``dst``; return how it was pre-processed.

    The exporter's value_info and per-node metadata are dropped first: shapes recorded by the dynamo exporter made ONNX
    shape inference inside quantize_dynamic fail ("Inferred shape and existing shape differ",
    Transformer sample); pre-processing infers them afresh.
    """
    import onnx
    from onnxruntime.quantization import quant_pre_process

    model = onnx.load(str(src))
    del model.graph.value_info[:]
    for node in model.graph.node:  # dynamo's per-node stack traces: ~2/3 of a small model's bytes
        del node.metadata_props[:]
        node.doc_string = ""
    stripped = dst.with_name(dst.stem + ".stripped.onnx")
    onnx.save(model, str(stripped))
    src = stripped

    attempts = (("shape inference (symbolic + ONNX) and ORT optimisation", {}),
                ("ONNX shape inference and ORT optimisation (symbolic shape inference failed)",
                 {"skip_symbolic_shape": True}))
    for description, kwargs in attempts:
        try:
            # When symbolic shape inference gives up, ORT dumps sym_shape_infer_temp.onnx + a
            # <uuid>.data file into the *current directory*: run it from a scratch directory.
            with warnings.catch_warnings(), _quiet_logging(), _in_directory(dst.parent):
                warnings.simplefilter("ignore")
                quant_pre_process(str(src.resolve()), str(dst.resolve()), **kwargs)
            return description
        except Exception:
            continue
    import shutil

    shutil.copyfile(src, dst)
    return "none (pre-processing failed; quantized the exported graph as is)"


@contextlib.contextmanager
def _in_directory(path: Path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


class _quiet_logging:
    """The quantization tools log through the root logger; keep their chatter off our stderr."""

    def __enter__(self):
        logging.disable(logging.WARNING)  # some quantizers attach their own INFO handlers

    def __exit__(self, *exc):
        logging.disable(logging.NOTSET)
