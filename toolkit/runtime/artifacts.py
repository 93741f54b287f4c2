"""Artifact names: a contract shared with the JS runtime (web/src/artifacts.mjs)."""

from __future__ import annotations

# precision -> model file name. Keep in sync with web/src/artifacts.mjs.
PRECISION_FILES = {
    "fp32": "model.fp32.onnx",
    "fp16": "model.fp16.onnx",
    "int8": "model.int8.onnx",
    "int4": "model.int4.onnx",
}

# Tolerance on outputs when a runtime is checked against the golden vectors recorded for a precision.
PRECISION_TOLERANCE = {"fp32": 1e-5, "fp16": 1e-2, "int8": 1e-3, "int4": 2e-2}

MANIFEST_NAME = "manifest.json"
TOKENIZER_NAME = "tokenizer.json"
MANIFEST_FORMAT_VERSION = 1


def model_file_for(precision: str) -> str:
    try:
        return PRECISION_FILES[precision]
    except KeyError:
        known = ", ".join(PRECISION_FILES)
        raise ValueError(f"unknown precision {precision!r}; known: {known}") from None
