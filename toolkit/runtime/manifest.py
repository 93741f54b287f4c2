"""Reading and checking ``manifest.json`` -- the contract every artifact carries.

Layout (format_version 1, keys in this order when written)::

    format_version   1
    model            {name, version, task, labels, max_length}
    inputs/outputs   [{name, dtype, shape}]     shape entries: int or a symbolic name
    precisions       {precision: {file, tolerance, ...details the stage recorded}}
    default_precision
    tokenizer        {file, sha256}
    files            {relative path: {sha256, bytes}}   every file of the artifact but the manifest
    tools            {edgepack, python, torch, onnx, onnxruntime, ...}
    golden           [{text, pair, input_ids, attention_mask, token_type_ids?, outputs: {precision: {output: values}}}]
    parity, quantization, targets   reports from the stages that ran (free-form)

Standard library only: this runs on devices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepack.errors import ArtifactError
from edgepack.runtime import files
from edgepack.runtime.artifacts import MANIFEST_FORMAT_VERSION, MANIFEST_NAME
from edgepack.runtime.hashing import sha256_file

SUPPORTED_FORMAT_VERSIONS = (MANIFEST_FORMAT_VERSION,)


@dataclass
class Manifest:
    data: dict[str, Any]
    root: Path | None = field(default=None)

    @property
    def model(self) -> dict[str, Any]:
        return self.data["model"]

    @property
    def task(self) -> str:
        return self.model["task"]

    @property
    def labels(self) -> list[str]:
        return list(self.model.get("labels") or [])

    @property
    def precisions(self) -> dict[str, dict[str, Any]]:
        return self.data.get("precisions", {})

    @property
    def default_precision(self) -> str:
        return self.data.get("default_precision") or next(iter(self.precisions))

    @property
    def golden(self) -> list[dict[str, Any]]:
        return self.data.get("golden", [])

    @property
    def input_names(self) -> list[str]:
        return [i["name"] for i in self.data.get("inputs", [])]

    @property
    def output_names(self) -> list[str]:
        return [o["name"] for o in self.data.get("outputs", [])]

    def model_path(self, precision: str | None = None) -> Path:
        precision = precision or self.default_precision
        entry = self.precisions.get(precision)
        if entry is None:
            have = ", ".join(self.precisions) or "none"
            raise ArtifactError(
                f"{self._where()}: no {precision} model in this artifact (it has: {have}); "
                "run `edgepack quantize` or choose another precision"
            )
        return self._require_root() / entry["file"]

    def target_precision(self, *targets: str, override: str | None = None) -> str:
        """The precision to ship: ``override``, else the first choice recorded for ``targets`` (by the
        quantize stage's gates), else the default; refused when this artifact has no such model.

        The one reader of recorded decisions (stdlib only, so devices and Pyodide can use it):
        edgepack.quantize.decision.for_target validates the record and passes its override here."""
        recorded = (((self.data.get("targets") or {}).get(t) or {}).get("precision") for t in targets)
        precision = override or next((p for p in recorded if p), None) or self.default_precision
        if precision not in self.precisions:
            have = ", ".join(self.precisions) or "none"
            raise ArtifactError(f"{self._where()}: no {precision} model in this artifact (it has: {have}); "
                                "run `edgepack quantize` first or pass another --precision")
        return precision

    def tokenizer_path(self) -> Path:
        return self._require_root() / self.data["tokenizer"]["file"]

    def verify_files(self) -> None:
        """Check every listed file's size and sha256; raise one error listing every problem."""
        root = self._require_root()
        problems = []
        for rel, meta in sorted(self.data.get("files", {}).items()):
            path = root / rel
            if not path.is_file():
                problems.append(f"{rel}: missing")
                continue
            if path.stat().st_size != meta.get("bytes", path.stat().st_size):
                problems.append(f"{rel}: size {path.stat().st_size} != {meta['bytes']} in manifest")
                continue
            if sha256_file(path) != meta["sha256"]:
                problems.append(f"{rel}: sha256 does not match the manifest (file changed or corrupted)")
        if problems:
            listing = "\n  ".join(problems)
            raise ArtifactError(
                f"{self._where()}: integrity check failed:\n  {listing}\n"
                "Rebuild the artifact; do not edit files inside it by hand."
            )

    def _require_root(self) -> Path:
        if self.root is None:
            raise ArtifactError("manifest has no root directory")
        return self.root

    def _where(self) -> str:
        return str(self.root / MANIFEST_NAME) if self.root else MANIFEST_NAME


def load_manifest(artifact: str | Path, verify: bool = False) -> Manifest:
    """Load ``manifest.json`` from an artifact directory (or the manifest file itself)."""
    path = Path(artifact)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.exists() and not path.is_symlink():
        raise ArtifactError(f"{path}: no manifest here; build the artifact first (`edgepack build PROJECT`)")
    text = files.read_text(path, "manifest", files.JSON_LIMIT, ArtifactError)
    try:
        data = json.loads(text)
    except RecursionError:  # the C parser's own limit, hit before a depth check could run
        raise ArtifactError(f"{path}: nested deeper than {files.MAX_DEPTH} levels; rebuild the artifact") from None
    except ValueError as exc:  # invalid JSON, or a number too long to convert
        raise ArtifactError(f"{path}: not valid JSON ({exc}); rebuild the artifact") from None
    if files.nesting_depth(data) > files.MAX_DEPTH:
        raise ArtifactError(f"{path}: nested deeper than {files.MAX_DEPTH} levels; rebuild the artifact")
    version = data.get("format_version") if isinstance(data, dict) else None
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise ArtifactError(
            f"{path}: manifest format_version {version!r} is not supported by this edgepack "
            f"(supported: {', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))})"
        )
    manifest = Manifest(data=data, root=path.parent)
    if verify:
        manifest.verify_files()
    return manifest
