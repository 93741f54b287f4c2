"""load_manifest on hostile manifest.json files: a typed ArtifactError (exit 5), never a traceback or a hang."""

from __future__ import annotations

import os
import threading

import pytest

from edgepack.errors import ArtifactError
from edgepack.runtime.manifest import load_manifest


def _load_in_thread(path):
    box = {}

    def run():
        try:
            load_manifest(path)
        except BaseException as exc:  # noqa: BLE001 -- the test inspects what came out
            box["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), f"load_manifest({path}) hung"
    return box.get("exc")


@pytest.mark.parametrize("content, needle", [
    (b"", "not valid JSON"),
    (b"{\"format_version\": 1", "not valid JSON"),
    (b"\xff\xfe garbage", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
    (b"[" * 70 + b"]" * 70, "nested deeper"),
    (b"1" * 50_000, "not valid JSON"),
    (b"[1, 2, 3]", "format_version"),
])
def test_bad_manifest_files(tmp_path, content, needle):
    (tmp_path / "manifest.json").write_bytes(content)
    exc = _load_in_thread(tmp_path)
    assert isinstance(exc, ArtifactError) and needle in str(exc), exc


def test_special_files_never_block(tmp_path):
    os.mkfifo(tmp_path / "manifest.json")
    exc = _load_in_thread(tmp_path)
    assert isinstance(exc, ArtifactError) and "FIFO" in str(exc)
    other = tmp_path / "dir"
    (other / "manifest.json").mkdir(parents=True)
    exc = _load_in_thread(other)
    assert isinstance(exc, ArtifactError) and "directory" in str(exc)
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "manifest.json").symlink_to("/dev/zero")
    exc = _load_in_thread(dev)
    assert isinstance(exc, ArtifactError) and "character device" in str(exc)


def test_missing_manifest(tmp_path):
    exc = _load_in_thread(tmp_path)
    assert isinstance(exc, ArtifactError) and "no manifest here" in str(exc)
