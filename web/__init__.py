"""edgepack.web: the WebAssembly target.

``build_wasm_bundle`` (bundle.py) turns a built artifact into a static, offline browser bundle;
``serve`` (serve.py) serves one with the headers that enable threads and a strict CSP; ``vendor``
(vendor.py) decides where the onnxruntime-web files come from. The JS runtime lives in ``src/*.mjs``
and the demo page in ``demo/``.
"""

from __future__ import annotations

_LAZY = {
    "build_wasm_bundle": "edgepack.web.bundle",
    "serve": "edgepack.web.serve",
    "make_server": "edgepack.web.serve",
    "ort_files": "edgepack.web.vendor",
    "vendor_ort": "edgepack.web.vendor",
    "build_pyodide_bundle": "edgepack.web.pyodide",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgepack.web' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = list(_LAZY)
