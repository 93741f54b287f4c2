"""Helpers for the quantize tests (a module of its own: `conftest` is taken by tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ZOO = ("sentiment", "gru", "bilstm", "textcnn", "transformer")


def copy_sample(name: str, dest: Path) -> Path:
    shutil.copytree(REPO / "samples" / name, dest / name, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    return dest / name


def clone(project: Path, dest: Path) -> Path:
    """A private copy of a built project (build/ included; the export fingerprint is path-free),
    next to a copy of sentiment so the zoo's ../sentiment/heldout.tsv resolves."""
    shutil.copytree(project, dest / project.name)
    if project.name != "sentiment" and not (dest / "sentiment").exists():
        copy_sample("sentiment", dest)
    return dest / project.name


def set_quantization(project: Path, **values) -> None:
    """Append a [quantization] table to the project's edgepack.toml (the zoo samples have none)."""
    lines = ["", "[quantization]"] + [f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"'
                                       for k, v in values.items()]
    with open(project / "edgepack.toml", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def run_cli(*args: str):
    """`python -m edgepack.cli ARGS` in a subprocess, as a user runs it."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "edgepack.cli", *args], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)
