"""Helpers for the quantize tests."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO, copy_sample, fresh_copy, run_cli  # noqa: F401 (re-exported for the quantize tests)

ZOO = ("sentiment", "gru", "bilstm", "textcnn", "transformer")


# A private copy of a built project (build/ included), next to a copy of sentiment so the zoo's
# ../sentiment/heldout.tsv resolves.
clone = fresh_copy


def set_quantization(project: Path, **values) -> None:
    """Append a [quantization] table to the project's edgepack.toml (the zoo samples have none)."""
    lines = ["", "[quantization]"] + [f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"'
                                       for k, v in values.items()]
    with open(project / "edgepack.toml", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

