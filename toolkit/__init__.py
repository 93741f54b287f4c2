"""edgepack: ship PyTorch text models to ONNX, the browser and the Raspberry Pi, with proven parity.

This module stays import-light on purpose: the runtime (``edgepack.runtime``) runs on devices
without torch or onnx, so the build-side API below is loaded lazily on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load_project": "edgepack.project",
    "export_project": "edgepack.export",
    "build": "edgepack.build",
    "inspect_artifact": "edgepack.inspection",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgepack' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["__version__", *_LAZY]
