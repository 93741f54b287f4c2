"""The repository under test, for every test file: its samples (a copy of the sources, a writable
copy of a built project, a cheap snapshot to see a write) and its CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
PYTHON = sys.executable


def cache() -> Path:
    """Where heavy, reusable test inputs live across runs (arm64 root, wheelhouses, host wheels):
    ``$EDGEPACK_TEST_CACHE``, else ``$EDGEPACK_CACHE`` (scripts/setup.sh's), else ~/.cache/edgepack.
    Not a test's sandboxed EDGEPACK_CACHE: these are expensive and safe to share."""
    return Path(os.environ.get("EDGEPACK_TEST_CACHE") or os.environ.get("EDGEPACK_CACHE") or Path.home() / ".cache" / "edgepack")
# Samples whose [evaluation] file is ../sentiment/heldout.tsv keep a sentiment sibling, in the cache
# and in copies, so that relative path resolves.
_NEEDS_SENTIMENT = "../sentiment/"


def copy_sample(name: str, dest: Path) -> Path:
    """``samples/<name>`` sources (no build/ or dist/) as ``dest/<name>``."""
    target = dest / name
    shutil.copytree(SAMPLES / name, target, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    return target


def snapshot(root: Path) -> dict[str, list[int]]:
    """path -> [size, mtime_ns] of every file: cheap (stat only) and enough to see a write."""
    return {str(p.relative_to(root)): [p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def add_sentiment_sibling(project: Path) -> None:
    toml = (project / "edgepack.toml").read_text(encoding="utf-8")
    if _NEEDS_SENTIMENT in toml and not (project.parent / "sentiment").exists():
        copy_sample("sentiment", project.parent)


def fresh_copy(project: Path, dest: Path) -> Path:
    """A private, writable copy of a (built) project as ``dest/<name>``, build/ included (the export
    fingerprint is path-free, so nothing re-runs), with a sentiment sibling when the sample needs one."""
    target = dest / project.name
    shutil.copytree(project, target, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    add_sentiment_sibling(target)
    return target


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None, env: dict | None = None,
            timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([PYTHON, "-m", "edgepack.cli", *args], cwd=cwd or REPO, input=input,
                          capture_output=True, text=True, env=full_env, timeout=timeout)
