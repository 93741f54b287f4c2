"""Errors shown to users.

Every error a user can cause derives from :class:`EdgepackError`. The CLI prints its message
(no traceback) and exits with its ``exit_code``; anything else is a bug and keeps its traceback.
Messages name the file, key or op at fault and say what to do.
"""

from __future__ import annotations


class EdgepackError(Exception):
    """Base class for errors caused by input, configuration or environment."""

    exit_code = 1


class ProjectError(EdgepackError):
    """An invalid model project: edgepack.toml, a missing file, a bad key."""

    exit_code = 2


class ModelLoadError(EdgepackError):
    """The model could not be built or its weights did not fit."""

    exit_code = 2


class UnsafeModelError(ModelLoadError):
    """Loading the file would run code; refused without an explicit trust flag."""


class ExportError(EdgepackError):
    """torch -> ONNX export failed."""

    exit_code = 3


class ParityError(EdgepackError):
    """An artifact does not give the reference's answers."""

    exit_code = 4

    def __init__(self, message: str, mismatches: list | None = None):
        super().__init__(message)
        self.mismatches = list(mismatches or [])


class ArtifactError(EdgepackError):
    """A built artifact is missing, tampered with or of an unknown format."""

    exit_code = 5


class TokenizerSpecError(EdgepackError):
    """A tokenizer.json outside the supported subset, or malformed."""

    exit_code = 2


class QuantizationError(EdgepackError):
    """Quantization produced nothing, or failed its accuracy gate."""

    exit_code = 6


class TargetError(EdgepackError):
    """A deployment target cannot be built here or for this model."""

    exit_code = 7


class OutputError(EdgepackError):
    """The output location cannot be written."""

    exit_code = 8


class DeployError(TargetError):
    """A deploy to a device failed (install, readiness, SSH, host key): that device keeps serving its
    previous version (install.sh's rollback). For a fleet, the report says which hosts."""

    exit_code = 9
