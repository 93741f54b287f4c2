"""Progress on stderr (results go to stdout). Quiet when asked, or when --json is used."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class Progress:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._t0 = time.perf_counter()

    def say(self, message: str) -> None:
        if self.enabled:
            print(message, file=sys.stderr, flush=True)

    @contextmanager
    def stage(self, message: str) -> Iterator[None]:
        start = time.perf_counter()
        self.say(f"→ {message} ...")
        yield
        self.say(f"  done in {time.perf_counter() - start:.1f}s")

    def bar(self, items: Iterable[T], label: str, length: int | None = None) -> Iterator[T]:
        if not self.enabled:
            yield from items
            return
        import click

        with click.progressbar(items, length=length, label=label, file=sys.stderr, show_pos=True) as bar:
            yield from bar


QUIET = Progress(enabled=False)
