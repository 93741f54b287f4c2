"""Fixtures for the Raspberry Pi target: an emulated arm64 python, offline aarch64 wheelhouses,
a real sshd on 127.0.0.1.

Heavy things are built once and cached across runs in ``$EDGEPACK_CACHE`` (arm64 root ~25-40 s,
wheelhouse one pip download). A missing tool skips these tests with the reason -- except in CI
(``CI`` or ``EDGEPACK_REQUIRE_EDGE`` set), where scripts/setup.sh installs the tools, so a skip
would hide a broken setup: there it fails.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from edgepack.edge import emulate, wheelhouse

from tests.edge.device_support import Device, cache, free_port, missing, reseal, ssh_server, unpack
from tests.repo_support import REPO


# ---------------------------------------------------------------------------------- packages on a device


@pytest.fixture(scope="session")
def arm64_root() -> Path:
    for tool, pkg in (("qemu-aarch64-static", "qemu-user-static"), ("debootstrap", "debootstrap")):
        if shutil.which(tool) is None:
            missing(f"{tool} not installed (apt-get install -y {pkg})")
    if os.geteuid() != 0 and not (cache() / "arm64-root" / ".edgepack-arm64-root").exists():
        missing("building the arm64 root needs root (debootstrap); run once as root or set EDGEPACK_TEST_CACHE")
    return emulate.ensure_root("bookworm", cache() / "arm64-root")


@pytest.fixture(scope="session")
def arm64_python(arm64_root) -> emulate.Arm64Python:
    """Bookworm's python3.11 (Raspberry Pi OS Bookworm) under qemu -cpu cortex-a72."""
    return emulate.Arm64Python(root=arm64_root, python="3.11")


@pytest.fixture(scope="session")
def aarch64_wheelhouse() -> wheelhouse.Wheelhouse:
    """The cp311 aarch64 wheelhouse (downloaded once from PyPI, then reused offline)."""
    try:
        return wheelhouse.build("3.11", dest=cache() / "wheelhouse" / f"aarch64-cp311-ort{wheelhouse.ONNXRUNTIME_VERSION}")
    except Exception as exc:  # no PyPI here and nothing cached
        missing(f"cannot build the aarch64 wheelhouse: {exc}")


@pytest.fixture(scope="session")
def arm64_venv(arm64_python, aarch64_wheelhouse, tmp_path_factory) -> Path:
    """A venv of the emulated python with onnxruntime, numpy and the service's libraries,
    installed from the wheelhouse with the network cut off."""
    dest = tmp_path_factory.mktemp("arm64") / "venv"
    return arm64_python.make_venv(dest, aarch64_wheelhouse.path, list(wheelhouse.TOP_LEVEL), offline=True)


@pytest.fixture(scope="session")
def rpi_packages(aarch64_wheelhouse, tmp_path_factory):
    """Packages of samples/sentiment, cp311 only:

    v1         1.0.0, made by `edgepack build --target rpi` (export, quantize, the gates' precision)
    v2         1.0.1, the fp32 model
    v2-broken  v2 without the server library: installs and self-tests, never becomes ready
    """
    from edgepack.build import build
    from edgepack.edge.package import build_package

    tmp = tmp_path_factory.mktemp("rpi-packages")
    project = tmp / "sentiment"
    shutil.copytree(REPO / "samples" / "sentiment", project, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    houses = {"3.11": aarch64_wheelhouse.path}
    v1 = Path(build(project, target="rpi", out=tmp / "dist1", pythons=["3.11"], wheelhouses=houses).artifact["package"])
    build2 = tmp / "build2"
    shutil.copytree(project / "build", build2)
    manifest = json.loads((build2 / "manifest.json").read_text())
    manifest["model"]["version"] = "1.0.1"
    (build2 / "manifest.json").write_text(json.dumps(manifest, indent=2))
    v2 = build_package(build2, tmp / "dist2", precision="fp32", python="3.11", wheelhouses=houses)
    pkgs = {"build": project / "build", "v1.tar.gz": v1, "v1": unpack(v1, tmp / "v1"), "v2": unpack(v2.path, tmp / "v2")}
    broken = unpack(v2.path, tmp / "v2-broken")
    reqs = broken / "wheelhouse" / "py311" / "requirements.txt"
    reqs.write_text("".join(line + "\n" for line in reqs.read_text().split() if not line.startswith("uvicorn")))
    reseal(broken)
    pkgs["v2-broken"] = broken
    return pkgs


@pytest.fixture(scope="session")
def embedder_project(tmp_path_factory) -> Path:
    """A private copy of samples/minilm-embedder (Hugging Face format), exported once (fp32)."""
    pytest.importorskip("transformers", reason="the hf extra (transformers) is needed to export the HF-format sample")
    from edgepack.export import export_project

    root = tmp_path_factory.mktemp("embedder")
    project = root / "minilm-embedder"
    shutil.copytree(REPO / "samples" / "minilm-embedder", project, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    (root / "sentiment").mkdir()  # [evaluation] file = "../sentiment/heldout.tsv": the same place in the copy
    shutil.copyfile(REPO / "samples" / "sentiment" / "heldout.tsv", root / "sentiment" / "heldout.tsv")
    export_project(project)
    return project


@pytest.fixture
def device(arm64_python, tmp_path):
    """An empty install prefix and a free port; the service started there is stopped afterwards."""
    dev = Device(py=arm64_python, prefix=tmp_path / "opt" / "sentiment", port=free_port())
    yield dev
    dev.stop()


# ---------------------------------------------------------------------------------- ssh


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    with ssh_server(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="module")
def embed_server(embedder_project):
    """The on-device service on loopback in front of the exported minilm-embedder (real uvicorn)."""
    pytest.importorskip("uvicorn")
    from edgepack.edge.service import Limits, Service
    from tests.edge.service_support import Running

    limits = Limits(max_body_bytes=2048, max_texts=8, max_batch=16, max_wait_ms=20, queue_size=4)
    with Running(Service(str(embedder_project / "build"), limits=limits)) as running:
        yield running
