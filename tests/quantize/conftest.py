"""Zoo fixtures: each sample exported and quantized with defaults once per test run, from the shared
built-sample cache (tests/conftest.py), next to a copy of sentiment whose corpus the zoo reads by
relative path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def zoo_built(built_sample):
    """name -> the sample's project dir, exported and quantized with defaults (wasm timed under Node;
    Chromium timing has its own tests). Read-only: tests that change a build work on
    `fresh_copy(...)` (tests.repo_support)."""

    def get(name: str) -> Path:
        return built_sample(name, "quantize")

    return get
