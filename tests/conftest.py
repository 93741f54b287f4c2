"""Shared fixtures. Heavy ones (a built sample) are built once per test run, shared by the xdist workers."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from tests.repo_support import add_sentiment_sibling, copy_sample, fresh_copy, snapshot


@pytest.fixture(autouse=True)
def _sandbox_home(tmp_path_factory, monkeypatch):
    """Keep tests away from the user's EDGEPACK_HOME."""
    monkeypatch.setenv("EDGEPACK_HOME", str(tmp_path_factory.getbasetemp() / "edgepack-home"))
    # The wasm speed gate in Chromium costs 25-50 s per quantize on 2 cores; tests that are about
    # it ask for it (wasm_timing="chromium"), every other quantize times wasm under Node.
    monkeypatch.setenv("EDGEPACK_WASM_TIMING", os.environ.get("EDGEPACK_WASM_TIMING", "node"))


# ---------------------------------------------------------------- the built-sample cache
# Exporting a sample costs seconds (sentiment) to a minute (minilm-embedder), quantizing as much
# again: each (sample, stage, options) is built once per test run, under a file lock in a directory
# every xdist worker of the run shares. The built project is read-only by contract, checked rather
# than chmod-ed (a chmod would follow every shutil.copytree of it): each hand-out and the end of the
# session compare it with what was built, and a changed file fails the run by name. Tests that
# change a project work on `fresh_copy(...)`.
STAGES = ("export", "quantize")


def _cache_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # under xdist each worker's basetemp is <run>/popen-gwN: the run's own directory is shared by all
    # of them and by nothing else (a later run gets a new one, so nothing stale is ever reused)
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "built-samples"
    root.mkdir(exist_ok=True)
    return root


def _build(name: str, stage: str, options: dict, dest: Path, get) -> None:
    if stage == "export":
        from edgepack.export import export_project

        project = copy_sample(name, dest)
        add_sentiment_sibling(project)
        export_project(project)
        return
    from edgepack.quantize import quantize_project

    quantize_project(fresh_copy(get(name, "export"), dest), **options)


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory):
    """``built_sample(name, stage="export"|"quantize", **quantize_options) -> Path``: samples/<name>
    exported (and quantized), built once per test run; read-only (copy it with ``fresh_copy`` to change
    anything). Quantize options default to wasm_timing="node" (Chromium timing has its own tests)."""
    root = _cache_root(tmp_path_factory)
    handed: dict[Path, dict] = {}

    def check(entry: Path) -> None:
        if snapshot(entry) != handed[entry]:
            before, after = handed[entry], snapshot(entry)
            changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            pytest.fail(f"the cached built sample {entry} was changed by a test ({', '.join(changed[:8])}): "
                        "shared builds are read-only; work on fresh_copy(project, tmp_path)")

    def get(name: str, stage: str = "export", **options) -> Path:
        if stage not in STAGES:
            raise ValueError(f"built_sample: stage {stage!r} is not one of {STAGES}")
        if stage == "quantize":
            options = {"wasm_timing": "node", **options}
        elif options:
            raise ValueError(f"built_sample: options {sorted(options)} apply to the quantize stage only")
        key = "-".join([name, stage, *(f"{k}={options[k]}" for k in sorted(options))])
        entry = root / key
        with open(root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building this very entry
            if not entry.is_dir():
                from edgepack.atomic import atomic_directory  # the one publish mechanism, tests too

                with atomic_directory(entry) as work:
                    _build(name, stage, options, work, get)
                    (root / f"{key}.json").write_text(json.dumps(snapshot(work)), encoding="utf-8")
        handed.setdefault(entry, json.loads((root / f"{key}.json").read_text(encoding="utf-8")))
        check(entry)
        return entry / name

    yield get
    for entry in handed:
        check(entry)


@pytest.fixture(scope="session")
def sentiment_project(built_sample) -> Path:
    """samples/sentiment exported once per test run (build/ holds model.fp32.onnx); read-only."""
    return built_sample("sentiment")


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
