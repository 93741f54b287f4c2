"""The edgepack runtime: what runs beside a model on a device.

Standard library, numpy and onnxruntime only -- never torch or onnx (a test enforces it). The same
code runs on the build machine, on a Raspberry Pi and (tokenizer only) under Pyodide.
"""

from edgepack.runtime.artifacts import PRECISION_FILES, model_file_for
from edgepack.runtime.manifest import Manifest, load_manifest

__all__ = ["PRECISION_FILES", "model_file_for", "Manifest", "load_manifest"]
