"""What every target's assembly shares (the start of issue 13's "one target assembler").

A target (wasm bundle, Pyodide page, Raspberry Pi package) ships ONE precision of a verified build
directory. Each used to narrow the manifest, list its files and guard its output path in its own
way; these are the single versions. Publishing (directory + archives together, reproducibly) is
:func:`edgepack.atomic.atomic_publish`; pre-compressed copies are :func:`edgepack.web.compress.compress_tree`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import edgepack
from edgepack.errors import OutputError
from edgepack.runtime.artifacts import MANIFEST_NAME
from edgepack.runtime.hashing import sha256_file


def narrow_manifest(data: dict, precision: str, target: str, record: dict, tools: dict | None = None) -> dict:
    """The build manifest narrowed to ``precision`` (key order kept): only that model, only its golden
    outputs, ``targets[target]`` updated with ``record``, ``tools`` added. ``files`` is left for
    :func:`file_table` once the artifact's files exist."""
    out = copy.deepcopy(data)
    out["precisions"] = {precision: out["precisions"][precision]}
    out["default_precision"] = precision
    for entry in out.get("golden", []):
        entry["outputs"] = {k: v for k, v in (entry.get("outputs") or {}).items() if k == precision}
    if tools:
        out.setdefault("tools", {}).update(tools)
        out["tools"].setdefault("edgepack", edgepack.__version__)
    targets = out.get("targets") or {}
    targets[target] = {**(targets.get(target) or {}), **record, "precision": precision}
    out["targets"] = targets
    return out


def file_table(root: Path) -> dict[str, dict]:
    """relative path -> {sha256, bytes} for every file under ``root``, sorted."""
    return {p.relative_to(root).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(root.rglob("*")) if p.is_file()}


def write_manifest(root: Path, data: dict) -> None:
    (root / MANIFEST_NAME).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def check_out_dir(out: Path, target: str, marker: str | None = None, name: str | None = None) -> None:
    """Refuse to replace a directory that is not an earlier ``target`` bundle (e.g. `--out .` by mistake):
    it must be empty, or hold a manifest naming ``target`` (and ``marker``, when given)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory; choose another output path")
    if not any(out.iterdir()):
        return
    try:
        data = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
        if target in (data.get("targets") or {}) and (marker is None or (out / marker).is_file()):
            return
    except (OSError, ValueError, AttributeError):
        pass
    raise OutputError(f"{out}: exists and is not an edgepack {name or target} bundle; refusing to replace it "
                      "(remove it or pick another path)")
