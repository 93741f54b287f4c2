"""Shared by the runtime-isolation tests (tests/test_runtime_isolation.py, tests/runtime/): code that,
run first in a fresh interpreter, makes torch, onnx and the other build-side packages unimportable."""

from __future__ import annotations

import textwrap

BLOCKER = textwrap.dedent(
    """
    import sys, importlib.abc

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "onnx", "onnxscript", "safetensors", "click"):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    """
)
