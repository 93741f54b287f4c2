"""Wheelhouse rules that need no network: armv7 refused with a way out, pins consistent."""

from __future__ import annotations

import pytest

from edgepack.edge import wheelhouse
from edgepack.errors import TargetError


@pytest.mark.parametrize("arch", ["armv7l", "armhf", "armv7"])
def test_32bit_arm_is_refused_with_what_to_do(arch):
    with pytest.raises(TargetError) as err:
        wheelhouse.check_arch(arch)
    msg = str(err.value)
    assert arch in msg and "no wheel" in msg and "64-bit" in msg and "--target wasm" in msg


@pytest.mark.parametrize("arch", ["aarch64", "arm64"])
def test_64bit_arm_is_accepted(arch):
    wheelhouse.check_arch(arch)


def test_unknown_python_is_refused():
    with pytest.raises(TargetError, match="3.11 .bookworm.*3.13 .trixie"):
        wheelhouse.check_python("3.12")


def test_requirements_pin_everything_once():
    reqs = wheelhouse.requirements()
    names = [r.split("==")[0] for r in reqs]
    assert len(names) == len(set(names))
    assert all("==" in r for r in reqs)
    assert reqs[0] == f"onnxruntime=={wheelhouse.ONNXRUNTIME_VERSION}"
    # Newer onnxruntime stays possible for real hardware.
    assert wheelhouse.requirements("1.31.1")[0] == "onnxruntime==1.31.1"


def test_changed_wheel_is_detected(tmp_path):
    whl = tmp_path / "demo-1.0-py3-none-any.whl"
    whl.write_bytes(b"one")
    index = {"format_version": 1, "python": "3.11", "platforms": [], "wheels": wheelhouse._index(tmp_path, "3.11")}
    import json

    (tmp_path / wheelhouse.INDEX_NAME).write_text(json.dumps(index))
    assert wheelhouse.load(tmp_path).wheels["demo"]["version"] == "1.0"
    whl.write_bytes(b"two")
    with pytest.raises(TargetError, match="demo-1.0-py3-none-any.whl"):
        wheelhouse.load(tmp_path)
