"""`edgepack build`: run the stages a target needs, skipping those whose inputs did not change.

Stages: export (PyTorch -> ONNX + parity) -> quantize (INT8 behind gates, when the quantize stage
is installed and the project does not set mode = "none") -> target packaging. Targets are a small
table of builders; each takes the verified build directory, narrows it to one precision
(edgepack.assemble) and publishes its directory and archive together through
edgepack.atomic.atomic_publish, so an interrupted build (exit 130/143) keeps the previous artifacts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepack.errors import TargetError
from edgepack.export import export_project, fingerprint, read_build_manifest
from edgepack.progress import QUIET, Progress
from edgepack.project import Project, load_project

# target -> "module:function(project, build_dir, out_dir, progress, **options) -> dict"
TARGETS = {
    "onnx": None,
    "wasm": "edgepack.web.bundle:build_target",
    "rpi": "edgepack.edge.package:build_target",
    "pyodide": "edgepack.web.pyodide:build_target",
}


@dataclass
class BuildResult:
    target: str
    build_dir: Path
    stages: dict[str, str] = field(default_factory=dict)  # stage -> "ran" | "skipped (...)"
    artifact: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "build_dir": str(self.build_dir), "stages": self.stages,
                "artifact": self.artifact}


def _target_builder(target: str):
    if target not in TARGETS:
        raise TargetError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    spec = TARGETS[target]
    if spec is None:
        return None
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ModuleNotFoundError, AttributeError):
        raise TargetError(f"target {target!r} is not available in this installation of edgepack") from None


def _quantize_stage():
    try:
        module = importlib.import_module("edgepack.quantize.stage")
    except ModuleNotFoundError:
        return None
    return module


def build(project: Project | str | Path, target: str = "onnx", out: str | Path | None = None, force: bool = False,
          progress: Progress = QUIET, **options: Any) -> BuildResult:
    """Build ``target`` for ``project``; ``force`` re-runs every stage."""
    if not isinstance(project, Project):
        project = load_project(project)
    builder = _target_builder(target)
    result = BuildResult(target=target, build_dir=project.build_dir)

    current = read_build_manifest(project.build_dir)
    stamp = fingerprint(project)
    if not force and current and current.get("stages", {}).get("export", {}).get("fingerprint") == stamp:
        result.stages["export"] = "skipped (inputs unchanged)"
        progress.say("→ export: up to date")
    else:
        export_project(project, progress=progress)
        result.stages["export"] = "ran"

    stage = _quantize_stage()
    mode = project.section("quantization").get("mode", "auto")
    wanted = target != "onnx" or "quantization" in project.config
    if stage is None:
        result.stages["quantize"] = "skipped (quantize stage not installed)"
    elif mode == "none":
        result.stages["quantize"] = "skipped (mode = none)"
    elif not wanted:
        result.stages["quantize"] = "skipped (the onnx target needs no quantization unless [quantization] is set)"
    else:
        result.stages["quantize"] = stage.run_stage(project, force=force, progress=progress)

    if builder is not None:
        out_dir = Path(out) if out else project.dist_dir
        result.artifact = builder(project, project.build_dir, out_dir, progress, **options)
        result.stages[target] = "ran"
    return result
