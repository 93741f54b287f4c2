"""Zoo fixtures: each sample copied next to a copy of sentiment (whose corpus the zoo reads by
relative path), then exported and quantized once per test session (per xdist worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.quantize.zoo_helpers import ZOO, copy_sample

_BUILT: dict[str, Path] = {}


@pytest.fixture(scope="session")
def zoo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zoo")
    for name in ZOO:
        copy_sample(name, root)
    return root


@pytest.fixture(scope="session")
def zoo_built(zoo_root):
    """name -> the sample's project dir, exported and quantized with defaults (cached). Tests
    that change a build work on `zoo_helpers.clone(...)`."""

    def get(name: str) -> Path:
        if name not in _BUILT:
            from edgepack.export import export_project
            from edgepack.quantize import quantize_project

            export_project(zoo_root / name)
            quantize_project(zoo_root / name, wasm_timing="node")  # Chromium timing has its own tests
            _BUILT[name] = zoo_root / name
        return _BUILT[name]

    return get
