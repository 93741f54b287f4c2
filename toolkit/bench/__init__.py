"""``edgepack bench``: PyTorch eager vs ONNX Runtime (fp32 / int8, CPU / CUDA), measured honestly.

Layout: ``runner`` plans the run and builds the report; ``worker`` runs one backend in its own
process (so each backend's peak RSS and cold start are its own) and holds the one loop that spawns
workers round by round; ``backends`` is the table of rows and the other targets' row providers;
``breakdown`` builds the time breakdown (where one call's µs go) from ONNX Runtime's profiler and
``torch.profiler``; ``report`` renders the terminal table, JSON, Markdown and PNG; ``sysinfo`` / ``sizes`` record the
machine and the artifact / install sizes.

This package's ``__init__`` stays import-free on purpose: every worker process imports it, and its
import time is part of the cold start being measured.
"""

from __future__ import annotations

_LAZY = {
    "run_bench": "edgepack.bench.runner",
    "BenchOptions": "edgepack.bench.runner",
    "BACKENDS": "edgepack.bench.backends",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgepack.bench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = list(_LAZY)
