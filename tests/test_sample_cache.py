"""The shared built-sample cache (tests/conftest.py): one build per (sample, stage, options) per run,
handed out read-only; fresh_copy is the way to change one."""

from __future__ import annotations

import json

import pytest

from tests.repo_support import fresh_copy, snapshot


def test_one_build_per_key_and_copies_are_private(built_sample, sentiment_project, tmp_path):
    assert built_sample("sentiment") == sentiment_project  # the same entry, not a second export
    before = snapshot(sentiment_project.parent)
    copy = fresh_copy(sentiment_project, tmp_path)
    assert json.loads((copy / "build" / "manifest.json").read_text()) == \
        json.loads((sentiment_project / "build" / "manifest.json").read_text())
    (copy / "build" / "manifest.json").write_text("{}")
    (copy / "edgepack.toml").write_text("changed")
    assert snapshot(sentiment_project.parent) == before


def test_a_write_to_a_cached_build_is_seen(tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "model.onnx").write_bytes(b"x")
    before = snapshot(tmp_path)
    (tmp_path / "build" / "model.onnx").write_bytes(b"yy")
    assert snapshot(tmp_path) != before


@pytest.mark.parametrize("args,kwargs,match", [
    (("sentiment", "bundle"), {}, "stage 'bundle'"),
    (("sentiment", "export"), {"wasm_timing": "node"}, "quantize stage only"),
])
def test_bad_requests_are_refused(built_sample, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        built_sample(*args, **kwargs)
