"""The rows of the benchmark: a frozen table of native backends, and the other targets' row providers.

A native backend runs in its own worker process (edgepack.bench.worker). Whether it can run here is
decided before any process starts, with a reason a reader can act on ("run `edgepack quantize`").

Other targets (the browser, aarch64 under emulation) add rows through their *row provider*: a function
``provider(request: BenchRequest) -> list[dict]`` returning result rows in the schema documented in
:mod:`edgepack.bench.worker` (build measurements with :func:`edgepack.bench.stats.measurement`).
:func:`row_provider` dispatches on the target's name: every target ships in the same wheel.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable

from edgepack.errors import TargetError


@dataclass(frozen=True)
class Backend:
    name: str
    engine: str  # "torch" | "onnxruntime"
    device: str  # "cpu" | "cuda"
    precision: str  # fp32 | int8 | fp16
    label: str


BACKENDS = MappingProxyType({b.name: b for b in (
    Backend("torch-eager", "torch", "cpu", "fp32", "PyTorch eager (inference_mode)"),
    Backend("ort-fp32", "onnxruntime", "cpu", "fp32", "ONNX Runtime fp32 (CPU)"),
    Backend("ort-int8", "onnxruntime", "cpu", "int8", "ONNX Runtime int8 (CPU)"),
    Backend("ort-cuda-fp32", "onnxruntime", "cuda", "fp32", "ONNX Runtime fp32 (CUDA)"),
    Backend("ort-cuda-fp16", "onnxruntime", "cuda", "fp16", "ONNX Runtime fp16 (CUDA)"),
    Backend("torch-cuda", "torch", "cuda", "fp32", "PyTorch eager (CUDA)"),
)})

REFERENCE = "torch-eager"  # every ratio is against this row

TARGETS = ("native", "wasm", "aarch64")


@dataclass
class BenchRequest:
    """What a row provider is asked to measure (the same inputs the native workers get)."""

    project_root: Path
    build_dir: Path
    manifest: dict
    batch_sizes: tuple[int, ...]
    seq_lengths: tuple[int, ...]
    texts: dict[int, list[str]]  # seq_len -> texts of exactly that many tokens (enough for the largest batch)
    quick: bool
    threads: int
    rounds: int
    timing: dict = field(default_factory=dict)  # warm-up / chunk budgets the native workers use
    progress: object = None


def row_provider(target: str) -> Callable[[BenchRequest], list[dict]]:
    """The row provider of ``target`` ("wasm", "aarch64"); an unknown target is a TargetError naming the known ones.

    Imported on use: the wasm rows drive Chromium, the aarch64 rows qemu; a native bench loads neither.
    """
    if target == "wasm":
        from edgepack.web.browser_bench import bench_rows
    elif target == "aarch64":
        from edgepack.edge.bench import bench_rows
    else:
        raise TargetError(f"bench --target {target!r}: unknown target (known: {', '.join(TARGETS)})")
    return bench_rows


def parse_backends(text: str | None) -> list[str] | None:
    """``"ort-fp32,ort-int8"`` -> names; unknown names raise one error listing the known ones."""
    if text is None or not text.strip():
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        from edgepack.bench.errors import BenchUsageError

        raise BenchUsageError(f"--backends: unknown backend(s) {', '.join(unknown)}; known: {', '.join(BACKENDS)}")
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------- availability, probed without torch
def _has_nvidia_gpu() -> bool:
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidiactl")


def _torch_cuda_build() -> str | None:
    """torch's CUDA version read from torch/version.py: importing torch costs seconds."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "version.py"
    try:
        match = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", path.read_text(), re.M)
    except OSError:
        return None
    return match.group(1) if match else None


def unavailable_reason(backend: Backend, manifest: dict, torch_source: bool) -> str | None:
    """Why ``backend`` cannot run here (None: it can). Cheap: no torch import, no session."""
    if backend.engine == "torch":
        if importlib.util.find_spec("torch") is None:
            return "PyTorch is not installed"
        if not torch_source:
            return "the project's model is an ONNX file: there is no PyTorch module to run"
        if backend.device == "cuda":
            cuda = _torch_cuda_build()
            if cuda is None:
                return "this PyTorch build has no CUDA (install a CUDA build of torch)"
            if not _has_nvidia_gpu():
                return "no NVIDIA GPU / driver on this machine"
        return None
    precisions = manifest.get("precisions", {})
    if backend.precision not in precisions:
        if backend.precision == "int8":
            return "no int8 model in the build: run `edgepack quantize PROJECT`"
        return (f"no {backend.precision} model in the build: run `edgepack quantize PROJECT` with "
                f"[quantization] extra_precisions = [\"{backend.precision}\"]")
    if backend.device == "cuda":
        from edgepack.runtime.session import capabilities

        if not capabilities().cuda:
            return ("ONNX Runtime has no CUDAExecutionProvider here: install the `edgepack[gpu]` extra "
                    "(onnxruntime-gpu) on a machine with an NVIDIA GPU")
        if not _has_nvidia_gpu():
            return "no NVIDIA GPU / driver on this machine"
    return None
