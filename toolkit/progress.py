"""Progress on stderr (results go to stdout). Quiet when asked, or when --json is used.

Two kinds of output: ``say``/``step`` lines (always, unless quiet: they are the log a CI run keeps)
and progress bars with an ETA (only when stderr is a terminal: a bar redrawn into a log file is
noise). One place for both, so every long step looks the same:

    for item in progress.bar(items, "ranking nodes"):           # an iterable of known length
        ...
    with progress.task("gate: per-channel", total=n) as tick:   # work counted by hand
        for feeds in texts:
            ...; tick()
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def _noop(n: int = 1) -> None:
    return None


class Progress:
    def __init__(self, enabled: bool = True, bars: bool | None = None):
        """``bars``: draw progress bars; None = only when enabled and stderr is a terminal."""
        self.enabled = enabled
        self._bars = bars
        self._t0 = time.perf_counter()

    @property
    def bars(self) -> bool:
        if not self.enabled:
            return False
        if self._bars is not None:
            return self._bars
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):  # replaced or closed stderr
            return False

    def say(self, message: str) -> None:
        if self.enabled:
            print(message, file=sys.stderr, flush=True)

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        """One timed step of a command ("→ message ...", "done in 1.2s"); a build *stage* (export,
        quantize, a target) is ``edgepack.build``'s word and may hold several steps."""
        start = time.perf_counter()
        self.say(f"→ {message} ...")
        yield
        self.say(f"  done in {time.perf_counter() - start:.1f}s")

    def bar(self, items: Iterable[T], label: str, length: int | None = None) -> Iterator[T]:
        if not self.bars:
            yield from items
            return
        import click

        with click.progressbar(items, length=length, label=label, file=sys.stderr, show_pos=True,
                               show_eta=True) as bar:
            yield from bar

    @contextmanager
    def task(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        """A bar advanced by calling the yielded function (``tick()`` or ``tick(n)``)."""
        if not self.bars or total <= 0:
            yield _noop
            return
        import click

        with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True) as bar:
            yield lambda n=1: bar.update(n)


QUIET = Progress(enabled=False)
