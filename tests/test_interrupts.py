"""Ctrl-C, SIGTERM and SIGKILL during `edgepack build --target X`, at named points of the atomic
publish (EDGEPACK_TEST_PAUSE_AT, so nothing depends on timing), on a project whose previous
artifacts exist: exit 130 / 143 with one line on stderr and no traceback, the previous directory and
archive intact and from the same build (or, past the commit point, the new ones, complete), and no
leftovers once the next run has repaired and cleaned up.

One exported sentiment project per module; each target is built once, then rebuilt and interrupted.
Each run gets its own SOURCE_DATE_EPOCH, so two generations of an archive never have the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sys
import tarfile
from pathlib import Path

import pytest

from edgepack.atomic import repair
from edgepack.runtime.manifest import load_manifest
from tests.repo_support import run_cli
from tests.atomic_support import archive_listing, finish, leftovers, run_until_paused, tree_listing

REQUIRED = bool(os.environ.get("CI") or os.environ.get("EDGEPACK_REQUIRE_EDGE"))
_epoch = iter(range(1_700_000_000, 1_800_000_000, 1000))


def _env(**extra) -> dict:
    return {"SOURCE_DATE_EPOCH": str(next(_epoch)), **extra}


def _cmd(project: Path, target: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "edgepack.cli", "build", str(project), "--target", target, *args]


@pytest.fixture(scope="module")
def project(sentiment_project, tmp_path_factory) -> Path:
    """The session's exported sample, copied; no quantization (fp32 only, no speed gates), one
    device Python from [targets] (what issue 12 says was ignored)."""
    dest = tmp_path_factory.mktemp("interrupts") / "sentiment"
    shutil.copytree(sentiment_project, dest, ignore=shutil.ignore_patterns("dist"))
    with open(dest / "edgepack.toml", "a", encoding="utf-8") as f:
        f.write('\n[quantization]\nmode = "none"\n\n[targets]\nrpi = { python = ["3.11"] }\n')
    from edgepack.build import build

    build(dest, target="onnx")  # re-export once: edgepack.toml is part of the export fingerprint
    return dest


def _ino(path: Path) -> int:
    return path.stat().st_ino


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_interrupted(code: int, err: str, sig: int, published: bool) -> None:
    assert code == 128 + sig, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "interrupted" in lines[0], err[-2000:]
    assert ("published" in lines[0]) == published and ("previous artifacts kept" in lines[0]) != published


# ---------------------------------------------------------------------------------------------- wasm

def _wasm_state(dist: Path) -> tuple[int, int, str]:
    """(dir inode, zip inode, zip sha256) after checking the two are one consistent build."""
    directory, zip_path = dist / "sentiment-wasm", dist / "sentiment-wasm.zip"
    load_manifest(directory, verify=True)
    assert archive_listing(zip_path) == tree_listing(directory), "directory and zip are from different builds"
    return _ino(directory), _ino(zip_path), _sha(zip_path)


@pytest.fixture(scope="module")
def wasm_dist(project) -> Path:
    proc = run_cli("build", str(project), "--target", "wasm", env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return project / "dist"


@pytest.mark.parametrize(("label", "sig", "published"), [
    ("built", signal.SIGINT, False),            # bundle complete, zip not started
    ("archive", signal.SIGTERM, False),         # while the zip is being written
    ("commit", signal.SIGINT, False),           # everything staged, just before the swap (--json)
    ("between-renames", signal.SIGINT, True),   # deferred until both renames are done
    ("swapped", signal.SIGTERM, True),          # published, removing the previous copies
])
def test_wasm_interrupted(project, wasm_dist, label, sig, published):
    before = _wasm_state(wasm_dist)
    extra = ("--json",) if label == "commit" else ()
    proc = run_until_paused(_cmd(project, "wasm", *extra), f"{label}@sentiment-wasm", env=_env())
    code, out, err = finish(proc, sig)
    _assert_interrupted(code, err, sig, published)
    if extra:  # --json: still exactly one document on stdout
        doc = json.loads(out)
        assert doc["ok"] is False and doc["error"]["type"] == "Interrupted" and doc["error"]["exit_code"] == 130
    after = _wasm_state(wasm_dist)
    if published:
        assert after[0] != before[0] and after[1] != before[1] and after[2] != before[2]
    else:
        assert after == before  # the very same directory and zip: nothing was swapped
    if label == "swapped":  # interrupted while removing the previous copies: the next run finishes that
        repair(wasm_dist / "sentiment-wasm", [wasm_dist / "sentiment-wasm.zip"])
    assert leftovers(wasm_dist) == []


def test_wasm_sigkill_between_renames_is_repaired_by_the_next_run(project, wasm_dist):
    before = _wasm_state(wasm_dist)
    proc = run_until_paused(_cmd(project, "wasm"), "between-renames@sentiment-wasm", env=_env())
    code, _, _ = finish(proc, signal.SIGKILL)
    assert code == -signal.SIGKILL
    # The one window no handler can cover: the directory is new, the zip still the previous one.
    assert _ino(wasm_dist / "sentiment-wasm") != before[0] and _sha(wasm_dist / "sentiment-wasm.zip") == before[2]
    assert (wasm_dist / ".sentiment-wasm.publish").is_file()  # ... which the journal records
    again = run_cli("build", str(project), "--target", "wasm", env=_env())
    assert again.returncode == 0, again.stderr[-2000:]
    _wasm_state(wasm_dist)
    assert leftovers(wasm_dist) == []


# ---------------------------------------------------------------------------------------------- onnx

@pytest.mark.parametrize(("label", "sig"), [("commit", signal.SIGTERM)])  # each point costs a full export
def test_onnx_export_interrupted_keeps_the_build_directory(project, label, sig):
    build = project / "build"
    manifest_before = _sha(build / "manifest.json")
    inode = _ino(build)
    proc = run_until_paused(_cmd(project, "onnx", "--force"), f"{label}@build", env=_env())
    code, _, err = finish(proc, sig)
    _assert_interrupted(code, err, sig, published=False)
    assert _ino(build) == inode and _sha(build / "manifest.json") == manifest_before
    load_manifest(build, verify=True)
    assert leftovers(project) == []  # nothing to repair: the interrupted run removed its work directory


# ------------------------------------------------------------------------------------------- pyodide

def test_pyodide_interrupted_then_killed(project):
    first = run_cli("build", str(project), "--target", "pyodide", env=_env())
    if first.returncode == 7 and "npm ci" in first.stderr and not REQUIRED:
        pytest.skip(f"Pyodide core not installed: {first.stderr.strip()[-300:]}")
    assert first.returncode == 0, first.stderr[-3000:]
    page = project / "dist" / "sentiment-pyodide"
    inode, manifest = _ino(page), _sha(page / "manifest.json")

    proc = run_until_paused(_cmd(project, "pyodide"), "commit@sentiment-pyodide", env=_env())
    code, _, err = finish(proc, signal.SIGINT)
    _assert_interrupted(code, err, signal.SIGINT, published=False)
    assert _ino(page) == inode and _sha(page / "manifest.json") == manifest
    load_manifest(page, verify=True)

    proc = run_until_paused(_cmd(project, "pyodide"), "swapped@sentiment-pyodide", env=_env())
    assert finish(proc, signal.SIGKILL)[0] == -signal.SIGKILL
    load_manifest(page, verify=True)  # the new page, complete; its predecessor is a leftover now
    assert _ino(page) != inode and leftovers(project / "dist")
    repair(page)  # what the next build does first
    load_manifest(page, verify=True)
    assert leftovers(project / "dist") == []


# ----------------------------------------------------------------------------------------------- rpi

@pytest.fixture(scope="module")
def rpi_env(project) -> dict:
    """EDGEPACK_CACHE holding the cp311 aarch64 wheelhouse (one PyPI download, then offline)."""
    from edgepack.edge import wheelhouse
    from edgepack.errors import TargetError

    cache = Path(os.environ.get("EDGEPACK_TEST_CACHE") or os.environ.get("EDGEPACK_CACHE")
                 or Path.home() / ".cache" / "edgepack")
    try:
        wheelhouse.build("3.11", dest=cache / "wheelhouse" / f"aarch64-cp311-ort{wheelhouse.ONNXRUNTIME_VERSION}")
    except TargetError as exc:
        if REQUIRED:
            pytest.fail(f"aarch64 wheelhouse unavailable: {exc}")
        pytest.skip(f"aarch64 wheelhouse unavailable offline: {exc}")
    return {"EDGEPACK_CACHE": str(cache)}


def _rpi_state(dist: Path) -> tuple[int, str]:
    """(inode, sha256) of the package after checking it: members vs SHA256SUMS, and the manifest."""
    (pkg,) = dist.glob("sentiment-*-linux-aarch64.tar.gz")
    with tarfile.open(pkg) as tar:
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    sums = dict(reversed(line.split("  ", 1)) for line in files.pop("SHA256SUMS").decode().splitlines())
    assert sums == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    manifest = json.loads(files["model/manifest.json"])
    assert manifest["targets"]["rpi"]["pythons"] == ["3.11"]  # from edgepack.toml [targets] rpi.python
    assert {n.split("/")[1] for n in files if n.startswith("wheelhouse/")} == {"py311"}
    return _ino(pkg), _sha(pkg)


def test_rpi_interrupted_at_each_point(project, rpi_env):
    dist = project / "dist"
    first = run_cli("build", str(project), "--target", "rpi", env=_env(**rpi_env))
    assert first.returncode == 0, first.stderr[-3000:]
    name = next(dist.glob("sentiment-*-linux-aarch64.tar.gz")).name
    before = _rpi_state(dist)
    # built: the tree is complete (wheelhouse copied), the tar.gz not started; archive: half written.
    for label, sig in (("built", signal.SIGINT), ("archive", signal.SIGTERM), ("commit", signal.SIGINT)):
        proc = run_until_paused(_cmd(project, "rpi"), f"{label}@{name}", env=_env(**rpi_env))
        code, _, err = finish(proc, sig)
        _assert_interrupted(code, err, sig, published=False)
        assert _rpi_state(dist) == before, label
        assert leftovers(dist) == [], label

    proc = run_until_paused(_cmd(project, "rpi"), f"archive@{name}", env=_env(**rpi_env))
    assert finish(proc, signal.SIGKILL)[0] == -signal.SIGKILL
    assert _rpi_state(dist) == before
    assert leftovers(dist)  # the killed run's work directory
    again = run_cli("build", str(project), "--target", "rpi", env=_env(**rpi_env))
    assert again.returncode == 0, again.stderr[-2000:]
    assert _rpi_state(dist)[1] != before[1]  # another SOURCE_DATE_EPOCH: a new generation
    assert leftovers(dist) == []


def test_rpi_python_from_the_command_line_overrides_the_project(project, tmp_path):
    env = _env(EDGEPACK_CACHE=str(tmp_path / "empty-cache"), PIP_NO_INDEX="1")
    proc = run_cli("build", str(project), "--target", "rpi", "--python", "3.13", "--out", str(tmp_path), env=env)
    # No cp313 wheelhouse in an empty cache and no index: the error names cp313, i.e. the CLI won.
    assert proc.returncode == 7 and "cp313" in proc.stderr and "cp311" not in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("value", ['["2.7"]', '[]', '"3.11"', '[3.11]'])
def test_rpi_python_in_the_project_is_checked(project, tmp_path, value):
    from edgepack.edge.package import _configured_pythons
    from edgepack.errors import ProjectError
    from edgepack.project import load_project

    dest = tmp_path / "p"
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns("build", "dist"))
    text = (dest / "edgepack.toml").read_text(encoding="utf-8")
    (dest / "edgepack.toml").write_text(text.replace('python = ["3.11"]', f"python = {value}"), encoding="utf-8")
    with pytest.raises(ProjectError, match="python"):
        _configured_pythons(load_project(dest))  # (or refused by load_project already: same error type)
