"""A bounded load test: the service in its own process on loopback, 10x its capacity for a few
seconds (fixed duration, stops by itself). Asserts the promises, never absolute times: no 5xx,
every request answered (200 or 429, no timeout, no reset), every 429 with Retry-After, /healthz
answered 200 throughout, and the model still serving while it refuses."""

from __future__ import annotations

import pytest

pytest.importorskip("uvicorn")

from edgepack.edge import loadtest  # noqa: E402


def test_ten_times_overload_keeps_the_promises(sentiment_project):
    with loadtest.service_process(sentiment_project / "build", ["--queue-size", "4"]) as url:
        result = loadtest.run(url, seconds=4, overload=10, n_texts=8, timeout=30, workers=1)
    assert loadtest.problems(result) == []
    flood, probe, health = result["overload"], result["probe"], result["healthz"]
    assert result["clients"] == 40
    assert flood["statuses"].get("429", 0) > 0, "no request was refused: the flood did not overload the service"
    assert flood["statuses"].get("200", 0) > 0 and set(flood["statuses"]) <= {"200", "429"}, flood
    assert set(probe["statuses"]) <= {"200", "429"} and not probe["failures"], probe
    assert health["probes"] >= 3 and health["ok"] == health["probes"], health
    assert result["server"]["batches"] > 0


def test_problems_notices_broken_promises():
    ok = {"statuses": {"200": 5, "429": 3}, "failures": {}}
    result = {"unloaded": dict(ok), "overload": dict(ok), "probe": dict(ok), "healthz": {"probes": 4, "ok": 4}}
    assert loadtest.problems(result) == []
    for phase, change in [("overload", {"statuses": {"200": 5, "500": 1}}),
                          ("overload", {"failures": {"timeout": 1}}),
                          ("probe", {"failures": {"429 without Retry-After": 2}}),
                          ("unloaded", {"statuses": {"429": 3}}),
                          ("healthz", {"probes": 4, "ok": 3})]:
        broken = {k: dict(v) for k, v in result.items()}
        broken[phase].update(change)
        assert loadtest.problems(broken), (phase, change)
