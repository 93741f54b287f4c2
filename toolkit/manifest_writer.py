"""Writing ``manifest.json`` (reading and checking is in edgepack.runtime.manifest)."""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from edgepack.runtime.artifacts import MANIFEST_FORMAT_VERSION, MANIFEST_NAME
from edgepack.runtime.hashing import sha256_file

KEY_ORDER = ("format_version", "model", "inputs", "outputs", "precisions", "default_precision", "tokenizer",
             "files", "tools", "golden", "parity", "quantization", "targets", "stages")


def tool_versions(*extra: str) -> dict[str, str]:
    from edgepack import __version__

    versions = {"edgepack": __version__, "python": platform.python_version()}
    for dist in ("torch", "onnx", "onnxruntime", "onnxscript", "numpy", *extra):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def file_table(root: Path) -> dict[str, dict[str, Any]]:
    table = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST_NAME:
            continue
        table[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return table


def ordered(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: data[k] for k in KEY_ORDER if k in data}
    out.update({k: v for k, v in data.items() if k not in out})
    return out


def write_manifest(root: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Recompute ``files`` and the tokenizer hash from ``root``, then write the manifest there."""
    data = dict(data)
    data["format_version"] = MANIFEST_FORMAT_VERSION
    data["files"] = file_table(root)
    tok = data.get("tokenizer")
    if tok and tok.get("file") in data["files"]:
        tok["sha256"] = data["files"][tok["file"]]["sha256"]
    text = json.dumps(ordered(data), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    (root / MANIFEST_NAME).write_text(text, encoding="utf-8")
    return data


def python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"
