"""`edgepack build`'s target dispatch: every target resolves to its builder; an unknown one is refused
by name before any stage runs (no plugin lookup, no "not installed" branch)."""

from __future__ import annotations

import pytest

from edgepack.build import TARGETS, _target_builder, build
from edgepack.errors import TargetError
from tests.repo_support import copy_sample, run_cli


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_has_a_builder(target):
    builder = _target_builder(target)
    assert (builder is None) == (target == "onnx")
    if builder is not None:
        assert builder.__name__ == "build_target" and builder.__module__.startswith("edgepack.")


def test_unknown_target_is_refused_before_any_work(tmp_path):
    project = copy_sample("sentiment", tmp_path)
    with pytest.raises(TargetError, match=r"unknown target 'riscv'; known: onnx, wasm, rpi, pyodide"):
        build(project, "riscv")
    assert not (project / "build").exists()


def test_cli_names_the_known_targets():
    result = run_cli("build", "samples/sentiment", "--target", "riscv")
    assert result.returncode == 2 and "riscv" in result.stderr and "pyodide" in result.stderr
    assert "Traceback" not in result.stderr
