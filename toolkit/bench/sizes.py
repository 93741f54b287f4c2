"""Artifact sizes and deployment footprints, measured from the files on disk.

The footprint of a deployment is the installed size of a set of distributions and everything they
require (their ``Requires-Dist`` closure, markers evaluated for this machine), summed over the files
each distribution's RECORD lists. The Python interpreter is common to both stacks and reported apart.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

# What runs a model in each stack. The ONNX Runtime side is what a Pi package installs.
RUNTIME_STACK = ("onnxruntime", "numpy")
PYTORCH_STACK = ("torch", "numpy")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(dist: metadata.Distribution) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    names = []
    for line in dist.requires or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        # extras are not installed by a plain `pip install NAME`: a marker naming one is false here
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        names.append(req.name)
    return names


def closure(names) -> list[metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        todo.extend(_requirements(dist))
    return [seen[k] for k in sorted(seen)]


def installed_bytes(dist: metadata.Distribution) -> int:
    total = 0
    for f in dist.files or []:
        try:
            total += Path(dist.locate_file(f)).stat().st_size
        except OSError:
            continue
    return total


def stack_footprint(names) -> dict:
    dists = closure(names)
    per = {dist.metadata["Name"]: installed_bytes(dist) for dist in dists}
    missing = [n for n in names if _norm(n) not in {_norm(k) for k in per}]
    return {"roots": list(names), "bytes": sum(per.values()), "packages": per, "missing": missing}


def footprints() -> dict:
    runtime = stack_footprint(RUNTIME_STACK)
    pytorch = stack_footprint(PYTORCH_STACK)
    ratio = (runtime["bytes"] / pytorch["bytes"]) if runtime["bytes"] and pytorch["bytes"] and not pytorch["missing"] else None
    return {"onnxruntime": runtime, "pytorch": pytorch, "runtime_over_pytorch": ratio,
            "note": "installed sizes of each stack's Requires-Dist closure from site-packages; the Python interpreter is common to both"}


def artifact_sizes(build_dir: Path, manifest_data: dict) -> dict:
    """Size of each precision's model file (and the tokenizer) in the build directory."""
    out: dict[str, int | None] = {}
    for precision, entry in manifest_data.get("precisions", {}).items():
        path = build_dir / entry.get("file", "")
        out[precision] = path.stat().st_size if path.is_file() else None
    tok = manifest_data.get("tokenizer", {}).get("file")
    if tok and (build_dir / tok).is_file():
        out["tokenizer"] = (build_dir / tok).stat().st_size
    return out
