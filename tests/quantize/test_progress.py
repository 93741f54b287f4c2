"""toolkit/progress.py: bars on a terminal only, never under --json (Progress(enabled=False)) or in a log."""

from __future__ import annotations

import io
import sys

from edgepack.progress import QUIET, Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(progress: Progress) -> None:
    list(progress.bar(range(3), "ranking"))
    with progress.task("gate (held-out): dynamic per-channel", total=4) as tick:
        for _ in range(4):
            tick()


def test_bars_draw_on_a_terminal(monkeypatch):
    err = _Tty()
    monkeypatch.setattr(sys, "stderr", err)
    _run(Progress())
    text = err.getvalue()
    assert "ranking" in text and "3/3" in text and "gate (held-out)" in text and "4/4" in text


def test_no_bars_in_a_log_or_under_json(monkeypatch):
    for progress, stream in ((Progress(), io.StringIO()), (QUIET, _Tty()), (Progress(enabled=False), _Tty())):
        monkeypatch.setattr(sys, "stderr", stream)
        _run(progress)
        progress.say("a line")
        assert "ranking" not in stream.getvalue() and "4/4" not in stream.getvalue()
    assert stream.getvalue() == ""  # quiet means nothing at all
