"""Plain helpers shared by the quantize tests (their fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

ZOO = ("sentiment", "gru", "bilstm", "textcnn", "transformer")


def set_quantization(project: Path, **values) -> None:
    """Append a [quantization] table to the project's edgepack.toml (the zoo samples have none)."""
    lines = ["", "[quantization]"] + [f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"'
                                       for k, v in values.items()]
    with open(project / "edgepack.toml", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def file_bytes(build: Path) -> dict[str, bytes]:
    """{name: bytes} of the files in ``build``: what a refused or skipped quantize must leave as it was."""
    return {p.name: p.read_bytes() for p in sorted(build.iterdir())}
