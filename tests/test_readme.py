"""The README's runnable examples (blocks after `<!-- readme-test: run -->`) are executed here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repo_support import REPO, copy_sample

MARK = "<!-- readme-test: run -->"
BLOCK = re.compile(re.escape(MARK) + r"\s*```(\w+)\n(.*?)```", re.S)


def _runnable_blocks() -> list[tuple[str, str]]:
    return BLOCK.findall((REPO / "README.md").read_text(encoding="utf-8"))


def test_readme_has_runnable_examples():
    kinds = [k for k, _ in _runnable_blocks()]
    assert "sh" in kinds and "python" in kinds


@pytest.mark.parametrize("index", range(len(_runnable_blocks())))
def test_readme_block(index, tmp_path):
    kind, code = _runnable_blocks()[index]
    work = tmp_path / "work"
    (work / "samples").mkdir(parents=True)
    copy_sample("sentiment", work / "samples")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if kind == "sh":
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    else:
        cmd = [sys.executable, "-c", code]
    result = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"README block {index} ({kind}) failed:\n{code}\n--- stderr:\n{result.stderr[-3000:]}"
    if kind == "python":
        assert "Positive" in result.stdout
