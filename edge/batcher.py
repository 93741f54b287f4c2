"""Dynamic batching with admission control, on a dedicated inference thread.

Why a thread of its own and not an asyncio task + ``run_in_executor``: under a flood the event
loop is busy answering rejections, and every asyncio step of a batch (wake on the queue, the
``wait_for`` timers, the executor's completion callback) waited a whole loop iteration — about
100 ms each at 10× overload (measured: accepted requests took 1.5-3 s while the model computed
for 0.3 ms per batch). Here the thread takes what is waiting the moment the model is free, and
the loop does one step per batch: hand the results back.

Admission: a request is admitted only if the texts already waiting or in the model, plus its own,
fit the latency budget at the measured cost per text (an exponential average over real batches
of 8 texts or more, seeded by a warm-up batch), and fewer than ``queue_size`` requests wait. Otherwise the caller
answers 429 with the Retry-After this module estimates. So an admitted request waits at most
about ``budget`` for the model, whatever the load.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable


class Batcher:
    """One inference thread fed by a bounded queue. ``submit`` is called from the event loop."""

    def __init__(self, predict: Callable[[list[str]], list[dict]], deliver: Callable[[list[tuple]], None], *,
                 max_batch: int, max_wait_s: float, queue_size: int, budget_s: float,
                 on_batch: Callable[[int, float], None] = lambda n, s: None):
        # deliver([(token, results or None, error or None), ...]) is called once per batch from the
        # inference thread: one wake-up of the event loop per batch, not one per request.
        self.predict, self.deliver, self.max_batch, self.max_wait_s = predict, deliver, max_batch, max_wait_s
        self.queue_size, self.budget_s, self.on_batch = queue_size, budget_s, on_batch
        self.per_text_s = 0.0  # measured; 0 until the warm-up ran
        self._waiting: deque = deque()  # (texts, token)
        self._waiting_texts = 0
        self._running_texts = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="edgepack-inference", daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------
    def warm_up(self, texts: list[str]) -> None:
        """One batch before serving: the first ORT run is slow, and it seeds the cost per text."""
        self.predict(texts)
        start = time.perf_counter()
        self.predict(texts)
        self.per_text_s = (time.perf_counter() - start) / max(1, len(texts))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(10)

    # -- admission (event-loop side) ----------------------------------------------------------
    @property
    def max_pending_texts(self) -> int:
        """Texts that fit the latency budget at the measured cost (at least one full batch)."""
        if self.per_text_s <= 0:
            return self.max_batch
        return max(self.max_batch, int(self.budget_s / self.per_text_s))

    def pending_texts(self) -> int:
        return self._waiting_texts + self._running_texts

    def waiting(self) -> int:
        """Requests waiting for the model (not counting the batch it is computing)."""
        return len(self._waiting)

    def full(self) -> bool:
        """Nothing more can be admitted now (checked before a request's body is read)."""
        return len(self._waiting) >= self.queue_size or self.pending_texts() >= self.max_pending_texts

    def retry_after_s(self) -> int:
        """Whole seconds (HTTP's unit) until what is pending now has been computed; at least 1."""
        return max(1, math.ceil(self.pending_texts() * self.per_text_s))

    def submit(self, texts: list[str], token) -> bool:
        """Queue ``texts``; their results reach ``deliver`` with ``token``. False: refused (full)."""
        with self._cond:
            pending = self._waiting_texts + self._running_texts
            # An idle model takes any request (each is at most max_texts long).
            if pending and (len(self._waiting) >= self.queue_size or pending + len(texts) > self.max_pending_texts):
                return False
            self._waiting.append((texts, token))
            self._waiting_texts += len(texts)
            self._cond.notify()
        return True

    # -- the inference thread -----------------------------------------------------------------
    def _take(self) -> list | None:
        with self._cond:
            while not self._waiting and not self._stop:
                self._cond.wait()
            if self._stop:
                return None
            if self.max_wait_s > 0 and self._waiting_texts < self.max_batch:
                # Wait a little for company; returns early once a full batch is waiting.
                deadline = time.monotonic() + self.max_wait_s
                while self._waiting_texts < self.max_batch and not self._stop:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            batch = [self._waiting.popleft()]
            n = len(batch[0][0])
            while self._waiting and n + len(self._waiting[0][0]) <= self.max_batch:
                item = self._waiting.popleft()
                batch.append(item)
                n += len(item[0])
            self._waiting_texts -= n
            self._running_texts = n
            return batch

    def _alone(self, texts: list[str], token) -> tuple:
        """After a failed batch, each request on its own: one bad request fails only itself."""
        try:
            return token, self.predict(texts), None
        except Exception as exc:  # noqa: BLE001
            return token, None, exc

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            texts = [t for item_texts, _ in batch for t in item_texts]
            start = time.perf_counter()
            try:
                results, error = self.predict(texts), None
            except Exception as exc:  # noqa: BLE001 -- reported to the waiters; the thread keeps serving
                results, error = None, exc
            seconds = time.perf_counter() - start
            if error is not None and len(batch) > 1:
                self.on_batch(len(texts), seconds)
                self.deliver([self._alone(item_texts, token) for item_texts, token in batch])
                with self._cond:
                    self._running_texts = 0
                continue
            if error is None and len(texts) >= min(self.max_batch, 8):
                # Small batches are left out: the fixed cost of a model call would count as cost per
                # text (a 2-text batch measured 10x the per-text cost of a full one). They only
                # happen when the queue is short anyway. Slowing down counts more than speeding up.
                cost = seconds / len(texts)
                weight = 0.5 if cost > self.per_text_s else 0.2
                self.per_text_s = (1 - weight) * self.per_text_s + weight * cost
            with self._cond:
                self._running_texts = 0
            self.on_batch(len(texts), seconds)
            out, i = [], 0
            for item_texts, token in batch:
                out.append((token, None if error else results[i: i + len(item_texts)], error))
                i += len(item_texts)
            self.deliver(out)
