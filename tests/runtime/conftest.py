"""Tiny artifacts for the runtime's own tests, made with onnx.helper (no torch): a good classifier,
a good embedder, and models whose outputs do not fit their task (each a way to answer wrongly)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.misfits_support import make_misfits
from tests.web.tiny_artifact_support import make_tiny_artifact


@pytest.fixture(scope="session")
def classifier(tmp_path_factory) -> Path:
    return make_tiny_artifact(tmp_path_factory.mktemp("rt-clf") / "build", with_int8=False)


@pytest.fixture(scope="session")
def embedder(tmp_path_factory) -> Path:
    return make_tiny_artifact(tmp_path_factory.mktemp("rt-emb") / "build", with_int8=False, task="feature-extraction")


@pytest.fixture(scope="session")
def misfits(tmp_path_factory) -> dict[str, Path]:
    """{case: artifact} whose model cannot answer the manifest's task."""
    return make_misfits(tmp_path_factory.mktemp("rt-misfit"))
