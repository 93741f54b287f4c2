"""The machine a benchmark ran on: CPU model and SIMD flags, cores, thread settings, versions.

Nothing here imports torch or onnxruntime: versions come from installed-distribution metadata, so
probing costs milliseconds and works where a package is broken or absent.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

# /proc/cpuinfo flag -> what the report calls it. VNNI is what int8 kernels (MatMulInteger,
# DynamicQuantizeLSTM) gain most from on x86; AMX only on Sapphire Rapids and later.
FLAGS = {
    "avx2": "AVX2",
    "fma": "FMA",
    "avx512f": "AVX-512F",
    "avx512bw": "AVX-512BW",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "amx_int8": "AMX-INT8",
    "asimd": "NEON (asimd)",
    "asimddp": "NEON dot product",
    "i8mm": "Int8 matmul (i8mm)",
}

VERSIONED = ("numpy", "onnxruntime", "onnxruntime-gpu", "torch", "onnx", "matplotlib", "psutil")


def _cpuinfo(path: str = "/proc/cpuinfo") -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return info
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if info:  # first processor block is enough: the flags are the same on every core here
                break
            continue
        info.setdefault(key.strip().lower(), value.strip())
    return info


def cpu_info(path: str = "/proc/cpuinfo") -> dict:
    info = _cpuinfo(path)
    model = info.get("model name") or info.get("hardware") or info.get("cpu part") or platform.processor() or "unknown"
    raw = set((info.get("flags") or info.get("features") or "").split())
    flags = {label: (flag in raw) for flag, label in FLAGS.items()
             if flag in raw or label in ("AVX2", "AVX-512F", "AVX-512 VNNI", "AVX-VNNI")}
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except Exception:  # psutil is a dependency, but a CPU count must never break a report
        physical = None
    return {
        "model": model,
        "arch": platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical,
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "flags": flags,
    }


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        from edgepack import __version__

        out["edgepack"] = __version__
    except ImportError:  # pragma: no cover
        out["edgepack"] = None
    return out


def default_threads() -> int:
    """Intra-op threads every backend gets unless told otherwise: physical cores, at most 4.

    The same number for PyTorch and ONNX Runtime, fixed and reported; 4 is a Raspberry Pi's core count.
    """
    try:
        import psutil

        cores = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except Exception:
        cores = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        cores = min(cores, len(os.sched_getaffinity(0)))
    return max(1, min(4, cores))


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def system_info(threads: int) -> dict:
    return {
        "load_average": load_average(),
        "cpu": cpu_info(),
        "threads": {"intra_op": threads, "inter_op": 1,
                    "note": "torch.set_num_threads and ORT intra_op_num_threads get the same value"},
        "platform": platform.platform(),
        "python_executable": sys.executable,
        "versions": versions(),
    }
