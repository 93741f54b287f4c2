"""The service's batcher on its own (no HTTP, no model): admission by latency budget, batching,
and one bad request failing only itself."""

from __future__ import annotations

import queue
import threading
import time

from edgepack.edge.batcher import Batcher


def _wait_until(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.002)


def _make(predict, **kw):
    done: queue.Queue = queue.Queue()
    opts = dict(max_batch=8, max_wait_s=0.0, queue_size=4, budget_s=0.01)
    opts.update(kw)
    b = Batcher(predict, lambda items: [done.put(i) for i in items], **opts)
    return b, done


def test_admission_follows_the_budget_and_the_queue():
    gate = threading.Event()
    b, done = _make(lambda texts: (gate.wait(10), [{"n": len(t)} for t in texts])[1])
    b.per_text_s = 0.001  # 10 ms budget -> 10 pending texts
    assert b.max_pending_texts == 10
    b.start()
    try:
        assert b.submit(["x"] * 8, "first")  # taken by the model, held there
        assert b.submit(["y"] * 2, "second")  # 10 pending: at the budget
        assert not b.submit(["z"], "third") and b.full()
        assert b.retry_after_s() == 1  # 10 texts x 1 ms, rounded up to HTTP's whole seconds
        b.per_text_s = 0.5
        assert b.retry_after_s() == 5 and b.max_pending_texts == 8  # never below one full batch
        gate.set()
        got = {done.get(timeout=10)[0] for _ in range(2)}
        assert got == {"first", "second"}
    finally:
        gate.set()
        b.stop()


def test_an_idle_model_takes_any_request_and_the_queue_bounds_requests():
    gate = threading.Event()
    b, done = _make(lambda texts: (gate.wait(10), [{} for _ in texts])[1], queue_size=2, budget_s=100.0)
    b.per_text_s = 1.0
    assert b.submit(["a"] * 50, "big")  # nothing pending: admitted whatever the budget says
    b.start()
    try:
        _wait_until(lambda: b.pending_texts() == 50 and not b.waiting())
        assert b.submit(["b"], 1) and b.submit(["c"], 2)
        assert not b.submit(["d"], 3)  # two requests already wait
        gate.set()
        assert sorted(str(done.get(timeout=10)[0]) for _ in range(3)) == ["1", "2", "big"]
    finally:
        gate.set()
        b.stop()


def test_a_failing_request_does_not_fail_its_batch_mates():
    gate = threading.Event()
    calls = []

    def predict(texts):
        calls.append(list(texts))
        gate.wait(10)
        if "bad" in texts:
            raise ValueError("cannot encode 'bad'")
        return [{"text": t} for t in texts]

    b, done = _make(predict, budget_s=100.0)
    b.start()
    try:
        assert b.submit(["hold"], "hold")
        _wait_until(lambda: calls)
        assert b.submit(["good"], "good") and b.submit(["bad"], "bad")  # batched together next
        gate.set()
        out = {}
        for _ in range(3):
            token, results, error = done.get(timeout=10)
            out[token] = (results, error)
    finally:
        gate.set()
        b.stop()
    assert calls[1] == ["good", "bad"]  # one batch first, then each request alone
    assert out["good"] == ([{"text": "good"}], None)
    assert out["bad"][0] is None and "cannot encode" in str(out["bad"][1])
    assert out["hold"][1] is None


def test_the_cost_per_text_follows_real_batches():
    b, done = _make(lambda texts: [{} for _ in texts])
    b.warm_up(["w"] * 8)
    assert b.per_text_s > 0
    b.per_text_s = 10.0  # far too pessimistic: real batches bring it down
    b.start()
    try:
        assert b.submit(["t"], "small")
        done.get(timeout=10)
        assert b.per_text_s == 10.0  # a 1-text batch is mostly the call's fixed cost: not used
        for i in range(20):
            assert b.submit(["t"] * 8, i)
            done.get(timeout=10)
    finally:
        b.stop()
    assert b.per_text_s < 10.0 * 0.8 ** 19
