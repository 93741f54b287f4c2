"""What the Raspberry Pi package weighs: one Python by default, wheels shared by several Pythons
stored once (wheelhouse/any/), sizes per part in the manifest and the build's output, and a
two-Python package still installs offline on the emulated device.

The second Python's wheelhouse is made from the real cp311 one: its pure-Python and abi3 wheels are
the very files pip downloads for cp313 too, and its two binary wheels (numpy, onnxruntime) are
stand-ins named like the cp313 ones -- a 3.11 device never installs them, and the layout is decided
by file name and sha256 only. This saves CI a second 35 MB download."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from edgepack.edge import wheelhouse
from edgepack.edge.package import SHARED_DIR, build_package, build_target
from edgepack.progress import Progress
from edgepack.project import load_project

from edgepack.errors import TargetError
from tests.edge.device_support import missing, unpack
from tests.repo_support import cache


def _shared_file(name: str) -> bool:
    """Wheels one file serves every CPython 3 with: pure Python (py3-none-any) and the stable ABI."""
    tags = name[:-len(".whl")].split("-")[-3:]
    return tags[1:] == ["none", "any"] or tags[1] == "abi3"


@pytest.fixture(scope="module")
def two_houses(aarch64_wheelhouse, tmp_path_factory) -> dict[str, Path]:
    cp313 = tmp_path_factory.mktemp("wh-cp313")
    for w in aarch64_wheelhouse.wheels.values():
        src = aarch64_wheelhouse.path / w["file"]
        if _shared_file(w["file"]):
            (cp313 / w["file"]).write_bytes(src.read_bytes())
        else:
            assert "cp311" in w["file"], w["file"]
            (cp313 / w["file"].replace("cp311", "cp313")).write_bytes(b"stand-in for the cp313 wheel")
    wheelhouse.write_index(cp313, "3.13", wheelhouse._index(cp313, "3.13"))
    return {"3.11": aarch64_wheelhouse.path, "3.13": cp313}


def _members(pkg: Path) -> dict[str, int]:
    """path inside the package -> bytes, for every file."""
    with tarfile.open(pkg) as tar:
        return {m.name.split("/", 1)[1]: m.size for m in tar.getmembers() if m.isfile()}


def _manifest(pkg: Path) -> dict:
    with tarfile.open(pkg) as tar:
        top = tar.getnames()[0].split("/")[0]
        return json.loads(tar.extractfile(f"{top}/model/manifest.json").read())


def _check_sizes(files: dict[str, int], sizes: dict) -> None:
    """The parts account for every byte of the package but the manifest and SHA256SUMS."""
    runtime = [f for f in files if f.split("/")[-1].startswith("edgepack_runtime-")]
    assert len(runtime) == 1, runtime
    assert sizes["runtime_wheel"] == files[runtime[0]]
    assert sizes["model"] == sum(n for f, n in files.items() if f.startswith("model/") and f != "model/manifest.json")
    for d, n in sizes["wheelhouse"].items():
        assert n == sum(b for f, b in files.items() if f.startswith(f"wheelhouse/{d}/") and f not in runtime), d
    rest = sum(files[f] for f in ("model/manifest.json", "SHA256SUMS"))
    parts = sizes["model"] + sum(sizes["wheelhouse"].values()) + sizes["runtime_wheel"] + sizes["scripts"]
    assert parts + rest == sum(files.values())


def test_default_package_carries_one_python_and_reports_its_parts(sentiment_project, aarch64_wheelhouse,
                                                                  tmp_path, capfd):
    assert len(wheelhouse.DEFAULT_PYTHONS) == 1
    (default,) = wheelhouse.DEFAULT_PYTHONS
    houses = {"3.11": aarch64_wheelhouse.path}
    if default not in houses:  # assembled only (the emulated device is Bookworm's 3.11): one download, cached
        try:
            houses[default] = wheelhouse.build(default, dest=cache() / "wheelhouse" /
                                               f"aarch64-cp{default.replace('.', '')}-ort{wheelhouse.ONNXRUNTIME_VERSION}").path
        except TargetError as exc:
            missing(f"cannot build the aarch64 wheelhouse for the default Python {default}: {exc}")
    # The build's adapter, with neither --python nor [targets] rpi.python: the default applies.
    project = load_project(sentiment_project)
    assert not (project.section("targets").get("rpi") or {}).get("python")
    out = build_target(project, sentiment_project / "build", tmp_path / "dist", Progress(), precision="fp32",
                       wheelhouses=houses)
    pkg = Path(out["package"])
    files = _members(pkg)
    manifest = _manifest(pkg)["targets"]["rpi"]
    assert out["pythons"] == manifest["pythons"] == [default]
    assert {f.split("/")[1] for f in files if f.startswith("wheelhouse/")} == {"py" + default.replace(".", "")}
    assert manifest["sizes"] == out["sizes"]
    _check_sizes(files, manifest["sizes"])
    err = capfd.readouterr().err
    sizes = manifest["sizes"]
    line = next(line for line in err.splitlines() if line.strip().startswith("unpacked: model "))
    assert f"wheelhouse/py{default.replace('.', '')} {sizes['wheelhouse']['py' + default.replace('.', '')] / 1e6:.1f} MB" in line
    assert "runtime wheel" in line and "scripts" in line
    print(f"default package: {out['bytes'] / 1e6:.1f} MB; {line.strip()}")  # reported, never asserted


def test_two_pythons_store_each_shared_wheel_once(sentiment_project, two_houses, tmp_path):
    pkg = build_package(sentiment_project / "build", tmp_path / "dist", precision="fp32", python=["3.11", "3.13"],
                        wheelhouses=two_houses)
    files = _members(pkg.path)
    wheels = [f for f in files if f.endswith(".whl")]
    names = [f.split("/")[-1] for f in wheels]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    shared = {f.split("/")[-1] for f in wheels if _shared_file(f)}
    assert shared and all(f.startswith(f"wheelhouse/{SHARED_DIR}/") for f in wheels if _shared_file(f)), wheels
    assert {f.split("/")[1] for f in wheels if not _shared_file(f)} == {"py311", "py313"}
    # Every requirement of each Python is a wheel in its own directory or in the shared one.
    with tarfile.open(pkg.path) as tar:
        top = tar.getnames()[0].split("/")[0]
        text = {f: tar.extractfile(f"{top}/{f}").read().decode() for f in files if f.endswith((".txt", ".json"))}
    for d in ("py311", "py313"):
        available = {(wheelhouse._norm(name), version) for f in wheels if f.split("/")[1] in (d, SHARED_DIR)
                     for name, version in [f.split("/")[-1].split("-")[:2]]}
        for req in text[f"wheelhouse/{d}/requirements.txt"].split():
            name, version = req.split("==")
            assert (wheelhouse._norm(name), version) in available, (d, req)
    # Each directory's index lists exactly its wheels.
    for d in ("py311", "py313", SHARED_DIR):
        index = json.loads(text[f"wheelhouse/{d}/wheelhouse.json"])
        listed = {w["file"] for w in index["wheels"].values()}
        present = {f.split("/")[-1] for f in wheels if f.split("/")[1] == d and "edgepack_runtime-" not in f}
        assert listed == present, d
    manifest = _manifest(pkg.path)["targets"]["rpi"]
    assert manifest["pythons"] == ["3.11", "3.13"]
    assert set(manifest["sizes"]["wheelhouse"]) == {"py311", "py313", SHARED_DIR}
    _check_sizes(files, manifest["sizes"])
    one = build_package(sentiment_project / "build", tmp_path / "dist1", precision="fp32", python="3.11",
                        wheelhouses=two_houses)
    # The second Python costs its binary wheels only.
    assert pkg.unpacked_bytes - one.unpacked_bytes < sum(
        n for f, n in files.items() if f.startswith("wheelhouse/py313/")) + 64_000


@pytest.mark.aarch64
@pytest.mark.slow
def test_two_python_package_installs_offline_on_the_device(sentiment_project, two_houses, device, tmp_path):
    """install.sh gives pip wheelhouse/py311 and wheelhouse/any (pip and the runtime live there)."""
    pkg = build_package(sentiment_project / "build", tmp_path / "dist", precision="fp32", python=["3.11", "3.13"],
                        wheelhouses=two_houses)
    root = unpack(pkg.path, tmp_path / "unpacked")
    assert not list((root / "wheelhouse" / "py311").glob("pip-*.whl"))
    device.extra_env["EDGEPACK_SERVICE_MANAGER"] = "none"  # the venv and the self-test are what changed
    proc = device.run_script(root)
    assert proc.returncode == 0, proc.stderr
    assert "self-test" in proc.stderr and "installed sentiment" in proc.stderr
    venv = next((device.prefix / "versions").glob("1.0.0-*")) / "venv"
    site = next(venv.glob("lib/python3.11/site-packages"))
    assert list(site.glob("edgepack_runtime-*.dist-info")) and list(site.glob("onnxruntime-1.27.0.dist-info"))
