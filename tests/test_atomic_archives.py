"""Reproducible target archives: building the same artifact twice gives byte-identical files.

The wasm zip (with its brotli/gzip copies inside) and the Raspberry Pi tar.gz, each built twice from
the session's exported sample into different directories at different times.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

REQUIRED = bool(os.environ.get("CI") or os.environ.get("EDGEPACK_REQUIRE_EDGE"))


def test_wasm_bundle_zip_is_byte_identical_across_builds(sentiment_project, tmp_path, monkeypatch):
    from edgepack.web.bundle import build_wasm_bundle

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = build_wasm_bundle(sentiment_project / "build", tmp_path / "a" / "sentiment-wasm", "fp32")
    time.sleep(1.1)  # a clock leaking into the archive would now show
    second = build_wasm_bundle(sentiment_project / "build", tmp_path / "b" / "sentiment-wasm", "fp32")
    assert first.zip_path.read_bytes() == second.zip_path.read_bytes()
    for rel in sorted(first.files):
        for suffix in ("", ".br", ".gz"):
            a, b = first.directory / (rel + suffix), second.directory / (rel + suffix)
            if a.exists():
                assert a.read_bytes() == b.read_bytes(), rel + suffix


def test_rpi_package_is_byte_identical_across_builds(sentiment_project, tmp_path, monkeypatch):
    from edgepack.edge import wheelhouse
    from edgepack.edge.package import build_package
    from edgepack.errors import TargetError

    cache = Path(os.environ.get("EDGEPACK_TEST_CACHE") or os.environ.get("EDGEPACK_CACHE")
                 or Path.home() / ".cache" / "edgepack")
    try:
        house = wheelhouse.build("3.11", dest=cache / "wheelhouse" / f"aarch64-cp311-ort{wheelhouse.ONNXRUNTIME_VERSION}")
    except TargetError as exc:
        if REQUIRED:
            pytest.fail(f"aarch64 wheelhouse unavailable: {exc}")
        pytest.skip(f"aarch64 wheelhouse unavailable offline: {exc}")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    houses = {"3.11": house.path}
    first = build_package(sentiment_project / "build", tmp_path / "a", precision="fp32", python="3.11", wheelhouses=houses)
    old = os.umask(0o077)  # another umask must not change a single byte either
    try:
        second = build_package(sentiment_project / "build", tmp_path / "b", precision="fp32", python="3.11",
                               wheelhouses=houses)
    finally:
        os.umask(old)
    assert first.path.name == second.path.name
    assert first.path.read_bytes() == second.path.read_bytes()
