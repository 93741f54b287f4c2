"""The fuzz runner's own promises: it notices each broken rule, and it kills a case that hangs."""

from __future__ import annotations

import os
from tests.fuzz import base, runner


def test_check_names_every_broken_rule():
    bad = runner.Outcome(code=1, stdout='{"ok": false}\n{"ok": false}', stderr="Traceback (most recent call last):",
                         seconds=0.1)
    problems = runner.check(bad, "before", "after")
    assert any("exit code 1" in p for p in problems)
    assert any("traceback" in p for p in problems)
    assert any("one JSON document" in p for p in problems)
    assert any("previous build/ changed" in p for p in problems)
    assert runner.check(runner.Outcome(None, "", "", 9.0), "h", "h")[0].startswith("hang")
    good = runner.Outcome(code=2, stdout='{"ok": false, "error": {}}\n', stderr="error: x", seconds=0.1)
    assert runner.check(good, "h", "h") == []


def test_tree_hash_sees_bytes_names_and_links(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "f").write_bytes(b"1")
    first = runner.tree_hash(tmp_path / "b")
    (tmp_path / "b" / "f").write_bytes(b"2")
    second = runner.tree_hash(tmp_path / "b")
    os.symlink("f", tmp_path / "b" / "l")
    assert len({first, second, runner.tree_hash(tmp_path / "b")}) == 3
    assert runner.tree_hash(tmp_path / "missing") == "absent"


def test_a_hanging_case_is_killed_and_reported(tmp_path, monkeypatch):
    """A case that blocks (here: opening a FIFO nobody writes to) is killed at its deadline."""
    import edgepack.export

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    project = base.write_project(tmp_path / "p", "onnx")

    def blocks(path):
        with open(fifo, "rb") as f:  # waits for a writer forever
            f.read()

    monkeypatch.setattr(edgepack.export, "load_project", blocks)  # inherited by the forked case
    outcome = runner.run_case(["export", str(project), "--json"], project, timeout=3)
    assert outcome.code is None and outcome.seconds >= 3
    assert runner.check(outcome, "h", "h")[0] == "hang: killed after 3 s"
    monkeypatch.undo()
    (project / "model.onnx").unlink()
    os.mkfifo(project / "model.onnx")  # the real thing: refused at load, no hang
    outcome = runner.run_case(["export", str(project), "--json"], project, timeout=20)
    assert outcome.code == 2 and "[model] onnx: model.onnx is a FIFO" in outcome.stdout, outcome.stderr
