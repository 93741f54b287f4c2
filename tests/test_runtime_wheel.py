"""The one runtime artifact: the edgepack-runtime wheel, what it holds, and that it runs alone."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import edgepack
from edgepack import runtime_wheel as rw
from edgepack.edge import wheelhouse
from edgepack.errors import TargetError
from tests.host_wheels import host_wheels

REPO = Path(__file__).resolve().parents[1]


def _read_wheel(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _expected_files() -> set[str]:
    """Written out from the sources, independently of the builder: the modules it must ship."""
    files = {p.relative_to(REPO / "toolkit").as_posix() for p in (REPO / "toolkit" / "runtime").rglob("*.py")
             if "__pycache__" not in p.parts}
    files |= {"__init__.py", "errors.py", "bench/__init__.py", "bench/worker.py", "bench/stats.py"}
    files |= {f"edge/{n}.py" for n in ("__init__", "service", "batcher", "openapi", "device_cli", "ondevice_bench",
                                          "handover", "service_metrics")}
    return {f"edgepack/{f}" for f in files}


def test_contents_are_the_allowed_module_set(tmp_path):
    wheel = rw.build_runtime_wheel(tmp_path)
    assert wheel.path.name == f"edgepack_runtime-{edgepack.__version__}-py3-none-any.whl"
    entries = _read_wheel(wheel.path)
    dist_info = f"edgepack_runtime-{edgepack.__version__}.dist-info"
    assert {n for n in entries if not n.startswith(dist_info + "/")} == _expected_files()
    for name in _expected_files():
        src = REPO / ("toolkit" if not name.startswith("edgepack/edge/") else "") / name.split("/", 1)[1]
        if name.startswith("edgepack/edge/"):
            src = REPO / "edge" / name.split("/", 2)[2]
        assert entries[name] == src.read_bytes(), name
    meta = entries[f"{dist_info}/METADATA"].decode()
    assert "\nName: edgepack-runtime\n" in meta and f"\nVersion: {edgepack.__version__}\n" in meta
    assert "\nLicense: MIT\n" in meta
    requires = [line.split(": ", 1)[1] for line in meta.splitlines() if line.startswith("Requires-Dist: ")]
    assert requires == ["numpy>=1.24", "onnxruntime>=1.20", 'starlette>=0.40; extra == "service"',
                        'uvicorn>=0.30; extra == "service"']
    assert "Root-Is-Purelib: true" in entries[f"{dist_info}/WHEEL"].decode()
    record = list(csv.reader(io.StringIO(entries[f"{dist_info}/RECORD"].decode())))
    assert {row[0] for row in record} == set(entries)
    for name, digest, size in record:
        if name.endswith("RECORD"):
            assert digest == size == ""
            continue
        want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(entries[name]).digest()).rstrip(b"=").decode()
        assert digest == want and int(size) == len(entries[name]), name


def test_byte_identical_for_identical_sources(tmp_path, monkeypatch):
    a = rw.build_runtime_wheel(tmp_path / "a")
    monkeypatch.chdir(tmp_path)
    os.umask(0o077)
    try:
        b = rw.build_runtime_wheel(tmp_path / "b", check=False)
    finally:
        os.umask(0o022)
    assert a.path.read_bytes() == b.path.read_bytes() and a.sha256 == b.sha256
    assert rw.runtime_wheel().sha256 == a.sha256  # the cached copy every target ships


def test_the_shared_cache_keys_on_the_archive_timestamp(monkeypatch):
    """Processes with another SOURCE_DATE_EPOCH share $EDGEPACK_CACHE: each gets its own cached wheel,
    and the one a package already copied from is never overwritten with other bytes (CI failure, stop 18)."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    default = rw.runtime_wheel()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    other = rw.runtime_wheel()
    assert other.path != default.path and other.sha256 != default.sha256
    assert hashlib.sha256(default.path.read_bytes()).hexdigest() == default.sha256
    assert hashlib.sha256(other.path.read_bytes()).hexdigest() == other.sha256


def test_an_import_outside_the_set_fails_the_build(tmp_path):
    sources = rw.module_sources()
    # A module the set imports but that is not in it (here: taken out) is named.
    without = {k: v for k, v in sources.items() if k != "edgepack.runtime.hashing"}
    with pytest.raises(TargetError, match="loads edgepack.runtime.hashing, which is not in the runtime wheel"):
        rw.check_closure(without)
    # A lazy import of a build-side module nobody listed is named with its file.
    lazy = tmp_path / "stats.py"
    lazy.write_text(sources["edgepack.bench.stats"].read_text() + "\ndef f():\n    from edgepack.quantize import x\n")
    with pytest.raises(TargetError, match=r"stats.py: imports edgepack.quantize, which is neither"):
        rw.check_closure({**sources, "edgepack.bench.stats": lazy})


def test_installs_alone_and_predicts_without_torch(tmp_path, sentiment_project):
    """A fresh venv (no system site-packages, so no torch/onnx to find), pip --no-index."""
    wheel = rw.runtime_wheel()
    venv = tmp_path / "venv"
    # --without-pip + this pip driving the venv (pip --python), --no-compile: seconds, not a minute.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    py = venv / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-index",
                           "--no-compile", "--disable-pip-version-check", "--find-links", str(host_wheels()),
                           str(wheel.path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    build = sentiment_project / "build"
    code = f"""
import importlib.util, json, sys
assert all(importlib.util.find_spec(m) is None for m in ("torch", "onnx", "click")), "not a clean venv"
import edgepack.runtime
assert edgepack.runtime.__file__.startswith({str(venv)!r}), edgepack.runtime.__file__
from edgepack.runtime.pipeline import Pipeline
pipe = Pipeline.load({str(build)!r})
assert pipe.self_test().ok
print(json.dumps(pipe.predict(["This movie was really great and amazing", "dull and boring"])))
"""
    proc = subprocess.run([str(py), "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    from edgepack.runtime.pipeline import Pipeline

    here = Pipeline.load(build).predict(["This movie was really great and amazing", "dull and boring"])
    there = json.loads(proc.stdout)
    assert [r["label"] for r in there] == [r["label"] for r in here]
    # The device CLI is in the wheel too.
    proc = subprocess.run([str(py), "-I", "-m", "edgepack.edge.device_cli", "--artifact", str(build), "self-test"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr


def _fake_wheelhouse(dest: Path) -> Path:
    """Named like the aarch64 wheelhouse, holding nothing installable: enough to assemble a package."""
    dest.mkdir()
    names = {"onnxruntime": wheelhouse.ONNXRUNTIME_VERSION, **wheelhouse.PINS}
    for name, version in names.items():
        (dest / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(name.encode())
    index = {"format_version": wheelhouse.FORMAT_VERSION, "python": "3.11", "platforms": [],
             "wheels": wheelhouse._index(dest, "3.11")}
    (dest / wheelhouse.INDEX_NAME).write_text(json.dumps(index))
    return dest


def test_pi_package_ships_the_wheel_and_no_source_tree(tmp_path, sentiment_project):
    from edgepack.edge.package import build_package

    pkg = build_package(sentiment_project / "build", tmp_path / "dist", precision="fp32", python="3.11",
                        wheelhouses={"3.11": _fake_wheelhouse(tmp_path / "wh")})
    with tarfile.open(pkg.path) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        wheel_name = f"{top}/wheelhouse/py311/{rw.wheel_name()}"
        shipped = tar.extractfile(wheel_name).read()
        reqs = tar.extractfile(f"{top}/wheelhouse/py311/requirements.txt").read().decode().split()
    assert hashlib.sha256(shipped).hexdigest() == rw.runtime_wheel().sha256
    assert f"edgepack-runtime=={edgepack.__version__}" in reqs
    assert not [n for n in names if n.endswith(".py") or "/runtime/" in n + "/" and not n.endswith(".whl")]


def test_the_wheel_runs_from_sys_path_as_a_zip(sentiment_project, tmp_path):
    """What emulation does (edge.emulate.runtime_pythonpath): the wheel file on PYTHONPATH, zipimport."""
    from edgepack.edge import emulate

    path = emulate.runtime_pythonpath()
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "onnx", "onnxscript", "click"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import edgepack, edgepack.bench.worker, edgepack.edge.ondevice_bench, edgepack.edge.service
assert all(m.__file__.startswith({path!r}) for m in (edgepack, edgepack.bench.worker, edgepack.edge.service))
from edgepack.runtime.pipeline import Pipeline
print(Pipeline.load({str(sentiment_project / "build")!r}).self_test().ok)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": path})
    assert proc.returncode == 0 and proc.stdout.strip() == "True", proc.stderr


def test_command_line_errors_are_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    for module in ("edgepack.runtime_wheel", "edgepack.web.pyodide wheel"):
        proc = subprocess.run([sys.executable, "-m", *module.split(), str(tmp_path / "file")],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 8 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith(f"error: {tmp_path / 'file'}: cannot create the output directory"), proc.stderr
