"""Helpers for the quantize tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO, copy_sample, run_cli  # noqa: F401 (re-exported for the quantize tests)

ZOO = ("sentiment", "gru", "bilstm", "textcnn", "transformer")


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

