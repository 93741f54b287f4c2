"""`edgepack build`: run the stages a target needs, skipping those whose inputs did not change.

Stages: export (PyTorch -> ONNX + parity) -> quantize (INT8 behind gates, unless the project sets
mode = "none") -> target packaging. Each target's builder takes the verified build directory,
narrows it to one precision (edgepack.assemble) and publishes its directory and archive together
through edgepack.atomic.atomic_publish, so an interrupted build (exit 130/143) keeps the previous
artifacts. Every stage ships in the one `edgepack` wheel: a plain dispatch, no plugin lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepack.errors import TargetError
from edgepack.export import export_fingerprint, export_project, read_build_manifest
from edgepack.progress import QUIET, Progress
from edgepack.project import Project, load_project

TARGETS = ("onnx", "wasm", "rpi", "pyodide")  # onnx: the verified build directory itself, no packaging


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
    """``builder(project, build_dir, out_dir, progress, **options) -> dict``; None for onnx.

    The target modules are imported on use: `edgepack build` (onnx) need not load the web or edge stages.
    """
    if target not in TARGETS:
        raise TargetError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    if target == "wasm":
        from edgepack.web.bundle import build_target
    elif target == "rpi":
        from edgepack.edge.package import build_target
    elif target == "pyodide":
        from edgepack.web.pyodide import build_target
    else:
        return None
    return build_target


def build(project: Project | str | Path, target: str = "onnx", out: str | Path | None = None, force: bool = False,
          progress: Progress = QUIET, **options: Any) -> BuildResult:
    """Build ``target`` for ``project``; ``force`` re-runs every stage."""
    if not isinstance(project, Project):
        project = load_project(project)
    builder = _target_builder(target)
    result = BuildResult(target=target, build_dir=project.build_dir)

    current = read_build_manifest(project.build_dir)
    stamp = export_fingerprint(project)
    if not force and current and current.get("stages", {}).get("export", {}).get("fingerprint") == stamp:
        result.stages["export"] = "skipped (inputs unchanged)"
        progress.say("→ export: up to date")
    else:
        export_project(project, progress=progress)
        result.stages["export"] = "ran"

    mode = project.section("quantization").get("mode", "auto")
    wanted = target != "onnx" or "quantization" in project.config
    if mode == "none":
        result.stages["quantize"] = "skipped (mode = none)"
    elif not wanted:
        result.stages["quantize"] = "skipped (the onnx target needs no quantization unless [quantization] is set)"
    else:
        from edgepack.quantize.stage import run_stage

        result.stages["quantize"] = run_stage(project, force=force, progress=progress)

    if builder is not None:
        out_dir = Path(out) if out else project.dist_dir
        result.artifact = builder(project, project.build_dir, out_dir, progress, **options)
        result.stages[target] = "ran"
    return result
