"""Benchmark rows for aarch64: ``edgepack bench PROJECT --target aarch64``.

The same worker the native rows use (edgepack.bench.worker) runs in the aarch64 python:
- on an x86 machine under qemu-aarch64 (-cpu cortex-a72) in the cached arm64 root, with a venv
  made offline from the package's wheelhouse. Labelled "emulated": it proves the numbers come
  from aarch64 code with the device's wheels, and is NOT a measure of Pi speed (qemu is many
  times slower, and unevenly so);
- on an aarch64 machine (a Raspberry Pi with edgepack installed) natively, labelled "native".
A Pi with only the package (no toolkit) runs the same rows with the package's ``bench.sh``
(edgepack.edge.ondevice_bench).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from edgepack.atomic import atomic_publish
from edgepack.edge import emulate, ondevice_bench, wheelhouse

PRECISIONS = ("fp32", "int8")
WORKER_TIMEOUT_S = 1800


def _venv(py: emulate.Arm64Python) -> Path:
    """A cached emulated venv with the device wheels (made once, offline, then reused)."""
    house = wheelhouse.build(py.python)
    dest = emulate.default_root().parent / f"arm64-venv-cp{py.python.replace('.', '')}-ort{house.wheels['onnxruntime']['version']}"
    if (dest / ".complete").is_file():
        return dest
    # The venv links to the root's python by absolute path, so it can be built aside and renamed in.
    with atomic_publish(dest) as tmp:
        py.make_venv(tmp, house.path, list(wheelhouse.TOP_LEVEL))
        (tmp / ".complete").touch()
    return dest


def bench_rows(request) -> list[dict]:
    from edgepack.bench.worker import run_rounds

    native = platform.machine() in ("aarch64", "arm64")
    available = [p for p in PRECISIONS if p in request.manifest.get("precisions", {})]
    # The name itself says "qemu" so no table row can be mistaken for a Pi measurement; a Pi's
    # bench.sh (edgepack.edge.ondevice_bench) names its rows by the same rule.
    backends = {b["name"]: b for b in (ondevice_bench.backend_for(p, native) for p in available)}
    if native:
        python = [sys.executable]
    else:
        py = emulate.Arm64Python(root=emulate.ensure_root())
        python = py.command([], python=_venv(py) / "bin" / "python")
    spec = {
        "project_root": str(request.project_root), "build_dir": str(request.build_dir), "threads": request.threads,
        "batch_sizes": list(request.batch_sizes), "seq_lengths": list(request.seq_lengths), "modes": ["e2e", "model"],
        "texts": {str(s): t for s, t in request.texts.items()}, "timing": request.timing, "backends": backends,
        "breakdown": {"enabled": False},
    }  # fmt: skip
    say = request.progress.say if request.progress is not None else None
    with tempfile.TemporaryDirectory(prefix="edgepack-bench-aarch64-") as tmp:
        tmp = Path(tmp)
        (tmp / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        # The device code is the edgepack-runtime wheel itself (zip-imported): what a Pi installs.
        env = dict(os.environ, PYTHONPATH=emulate.runtime_pythonpath(), OMP_NUM_THREADS=str(request.threads))
        rows = run_rounds(backends, request.rounds, tmp / "spec.json", python=python, env=env,
                          timeout=WORKER_TIMEOUT_S, progress=say)
    for row in rows:
        row["emulated"] = not native
    return rows
