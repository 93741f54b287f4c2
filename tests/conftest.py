"""Shared fixtures. Heavy ones (a built sample) are built once per test session (per xdist worker)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
PYTHON = sys.executable


@pytest.fixture(autouse=True)
def _sandbox_home(tmp_path_factory, monkeypatch):
    """Keep tests away from the user's EDGEPACK_HOME."""
    monkeypatch.setenv("EDGEPACK_HOME", str(tmp_path_factory.getbasetemp() / "edgepack-home"))
    # The wasm speed gate in Chromium costs 25-50 s per quantize on 2 cores; tests that are about
    # it ask for it (wasm_timing="chromium"), every other quantize times wasm under Node.
    monkeypatch.setenv("EDGEPACK_WASM_TIMING", os.environ.get("EDGEPACK_WASM_TIMING", "node"))


def copy_sample(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(SAMPLES / name, target, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    return target


@pytest.fixture(scope="session")
def sentiment_project(tmp_path_factory) -> Path:
    """A private copy of samples/sentiment, exported once (build/ holds model.fp32.onnx)."""
    from edgepack.export import export_project

    project = copy_sample("sentiment", tmp_path_factory.mktemp("sentiment"))
    export_project(project)
    return project


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None, env: dict | None = None,
            timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([PYTHON, "-m", "edgepack.cli", *args], cwd=cwd or REPO, input=input,
                          capture_output=True, text=True, env=full_env, timeout=timeout)


@pytest.fixture(scope="session")
def browser():
    """ONE headless Chromium per test process (Playwright's sync API allows one per thread).

    Launched by edgepack.web.chromium (Debian's /usr/bin/chromium, the project's flags, a fresh
    profile per launch; never `playwright install`); every test gets a fresh context.
    """
    from edgepack.web import chromium

    why = chromium.available()
    if why:
        pytest.fail(f"{why}; see scripts/setup.sh")
    with chromium.launch("browser tests") as b:
        yield b
