"""The one place in Python that talks to ONNX Runtime: session creation, providers, threads.

Everything else (export checks, quantization gates, benchmarks, the Pi service) asks this module
for a session, so thread counts and optimisation levels are set the same way everywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from edgepack.errors import ArtifactError, TargetError

# edgepack's provider names -> ONNX Runtime's. Frozen: add a row here, nowhere else.
PROVIDERS = MappingProxyType(
    {
        "cpu": "CPUExecutionProvider",
        "cuda": "CUDAExecutionProvider",
    }
)


def _ort():
    import onnxruntime

    return onnxruntime


@dataclass(frozen=True)
class Capabilities:
    """What this machine's ONNX Runtime can do, probed once."""

    onnxruntime_version: str
    providers: tuple[str, ...]  # edgepack names available here

    @property
    def cuda(self) -> bool:
        return "cuda" in self.providers


_CAPS: Capabilities | None = None


def capabilities() -> Capabilities:
    global _CAPS
    if _CAPS is None:
        ort = _ort()
        available = set(ort.get_available_providers())
        names = tuple(name for name, ort_name in PROVIDERS.items() if ort_name in available)
        _CAPS = Capabilities(onnxruntime_version=ort.__version__, providers=names)
    return _CAPS


def create_session(
    model: str | Path | bytes,
    provider: str = "cpu",
    threads: int | None = None,
    optimization: str = "all",
    profile_prefix: str | None = None,
):
    """An ``onnxruntime.InferenceSession`` for ``model`` on ``provider``.

    ``threads``: intra-op threads (None = ORT's default, one per physical core). Inter-op is 1:
    text models here are sequential graphs. ``optimization``: disabled | basic | extended | all.
    """
    ort = _ort()
    if provider not in PROVIDERS:
        raise TargetError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    if provider not in capabilities().providers:
        raise TargetError(
            f"provider {provider!r} is not available in this onnxruntime "
            f"({ort.__version__}: {', '.join(ort.get_available_providers())}); "
            + ("install the `edgepack[gpu]` extra (onnxruntime-gpu) on a machine with a CUDA GPU" if provider == "cuda" else "")
        )
    opts = ort.SessionOptions()
    levels = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    opts.graph_optimization_level = levels[optimization]
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    source = model if isinstance(model, bytes) else os.fspath(model)
    if not isinstance(model, bytes) and not Path(source).is_file():
        raise ArtifactError(f"{source}: model file not found")
    try:
        return ort.InferenceSession(source, sess_options=opts, providers=[PROVIDERS[provider]])
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
        where = "model bytes" if isinstance(model, bytes) else source
        raise ArtifactError(f"{where}: ONNX Runtime could not load the model: {exc}") from None


def runner(session, output_names):
    """``feeds -> [arrays]`` for ``output_names``: ``session.run`` without its per-call Python checks.

    For callers whose feeds are complete by construction (the Pipeline builds every input the model
    declares). InferenceSession.run re-checks the feed names and wraps the call for an execution-
    provider fallback on every call: ~2 us, 5% of a batch-1 LSTM call (measured, ORT 1.31). On the CPU
    provider there is nothing to fall back to, so the binding's own run is called; anywhere else, or
    if a future onnxruntime renames that attribute, the public run is used (same answers either way;
    tests/runtime check both).
    """
    names = list(output_names)
    inner = getattr(session, "_sess", None)
    run = getattr(inner, "run", None)
    if run is None or session.get_providers()[:1] != ["CPUExecutionProvider"]:
        public = session.run
        return lambda feeds: public(names, feeds)
    return lambda feeds: run(names, feeds, None)
