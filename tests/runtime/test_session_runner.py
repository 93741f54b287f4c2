"""edgepack.runtime.session.runner: the Pipeline's run without InferenceSession.run's per-call checks."""

from __future__ import annotations

import numpy as np

from edgepack.runtime.pipeline import Pipeline
from edgepack.runtime.session import runner


def test_runner_answers_like_the_public_run_and_takes_the_binding_on_cpu(sentiment_project):
    pipe = Pipeline.load(sentiment_project / "build")
    feeds = pipe.encode(["a great movie", "terrible food, cold and late", ""])
    want = pipe.session.run(pipe.output_names, feeds)
    got = runner(pipe.session, pipe.output_names)(feeds)
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]
    # The pinned onnxruntime still has the binding the fast path calls: if this fails after an
    # upgrade, runner() silently uses the slower public run -- still right, 5% slower at batch 1.
    assert callable(getattr(getattr(pipe.session, "_sess", None), "run", None))
    calls = []
    real = pipe.session._sess

    class Spy:
        def run(self, *args):
            calls.append(args[0])
            return real.run(*args)

    pipe.session._sess = Spy()
    try:
        fast = runner(pipe.session, pipe.output_names)
        np.testing.assert_array_equal(fast(feeds)[0], want[0])
    finally:
        pipe.session._sess = real
    assert calls == [pipe.output_names]


def test_runner_falls_back_to_the_public_run_without_the_binding(sentiment_project):
    pipe = Pipeline.load(sentiment_project / "build")

    class Wrapped:  # a session object without _sess, as a future onnxruntime might be
        def __init__(self, inner):
            self.inner = inner

        def get_providers(self):
            return self.inner.get_providers()

        def run(self, names, feeds):
            return self.inner.run(names, feeds)

    feeds = pipe.encode("fine")
    got = runner(Wrapped(pipe.session), pipe.output_names)(feeds)
    np.testing.assert_array_equal(got[0], pipe.session.run(pipe.output_names, feeds)[0])
