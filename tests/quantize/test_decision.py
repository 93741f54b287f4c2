"""Reproducible precision decisions (issue 12, item 2): the speed gate's statistics and tie rule,
the typed record, and builds that read the record instead of re-measuring.

The noisy-timer tests inject the measurement (``run_rounds``, the parameter every real gate plugs
its timing into) with a seeded lognormal noise of sigma 0.3 on every reading -- far noisier than a
busy CI machine -- and require the same decision for every seed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgepack.errors import ArtifactError
from edgepack.quantize import decision
from edgepack.quantize.decision import Decision, Policy, by_speed, median_interval

SEEDS = range(20)


def _noisy_rounds(true_ratio: float, seed: int, sigma: float = 0.3, fp32_ms: float = 1.0):
    """run_rounds for decision.measure: each round's reading is its true cost times lognormal noise."""
    rng = np.random.default_rng(seed)

    def run(k: int):
        return [(fp32_ms * rng.lognormal(0, sigma), fp32_ms * true_ratio * rng.lognormal(0, sigma)) for _ in range(k)]

    return run


def _decide(true_ratio: float, seed: int, policy: Policy = Policy(), **kw) -> Decision:
    m = decision.measure(_noisy_rounds(true_ratio, seed, **kw), policy, "noisy test timer")
    return by_speed("cpu", [m], policy)


@pytest.mark.parametrize("true_ratio, precision, decided_by", [
    (0.6, "int8", "speed"),     # clearly faster
    (1.6, "fp32", "speed"),     # clearly slower
    (1.05, "fp32", "tie-rule"),  # right at 1 + max_slowdown: the tie rule, every time
])
def test_noisy_timer_gives_the_same_decision_for_every_seed(true_ratio, precision, decided_by):
    policy = Policy()
    got = [_decide(true_ratio, seed, policy) for seed in SEEDS]
    assert {(d.precision, d.decided_by) for d in got} == {(precision, decided_by)}
    for d in got:
        rec = d.as_dict()
        lo, hi = rec["ratio_interval"]
        assert lo <= rec["ratio"] <= hi and rec["threshold"] == policy.threshold
        assert rec["rounds"] in policy.looks() and len(rec["measurements"][0]["rounds_ms"]["int8"]) == rec["rounds"]
        if decided_by == "tie-rule":  # undecided means: the interval still holds the threshold at the limit
            assert lo <= policy.threshold <= hi and rec["rounds"] == policy.max_rounds
            assert rec["stopped_by"] == "round limit"
        else:
            assert (hi < policy.threshold) if precision == "int8" else (lo > policy.threshold)
            assert rec["stopped_by"] == "clear"


def test_one_noisy_reading_would_have_flipped():
    """The old gate (median of 15 rounds against the threshold, no interval) on the same noise at
    the threshold: it chose both ways across seeds -- the flip the interval + tie rule remove."""
    import statistics

    old = set()
    for seed in SEEDS:
        pairs = _noisy_rounds(1.05, seed)(15)
        ratio = statistics.median(q for _, q in pairs) / statistics.median(f for f, _ in pairs)
        old.add("int8" if ratio <= 1.05 else "fp32")
    assert old == {"int8", "fp32"}
    assert {_decide(1.05, seed).precision for seed in SEEDS} == {"fp32"}


def test_stalls_move_one_round_not_the_decision():
    """A machine that stalls now and then (one round in ten takes 20x): the sign-test interval is
    unmoved by how long a stall was, so a clear win stays a clear win."""
    rng = np.random.default_rng(7)

    def run(k):
        out = []
        for _ in range(k):
            f, q = rng.lognormal(0, 0.1), 0.6 * rng.lognormal(0, 0.1)
            if rng.random() < 0.1:
                q *= 20  # the stall hit the int8 half of the round
            out.append((f, q))
        return out

    m = decision.measure(run, Policy(), "stalling timer")
    assert m.verdict == "faster" and by_speed("wasm", [m], Policy()).precision == "int8"


def test_time_limit_stops_at_a_look_and_the_tie_rule_decides():
    ticks = iter(range(0, 10_000, 100))  # every clock reading is 100 s later
    policy = Policy(max_seconds=50)
    m = decision.measure(_noisy_rounds(1.05, 0), policy, "slow", clock=lambda: next(ticks))
    assert m.stopped_by == "time limit" and m.rounds == policy.min_rounds
    d = by_speed("wasm", [m], policy)
    assert (d.precision, d.decided_by) == ("fp32", "tie-rule") and "time limit" in d.reason


def test_every_configuration_must_clear_for_int8():
    policy = Policy()
    fast, slow, tie = (decision.measure(_noisy_rounds(r, 1), policy, "x") for r in (0.6, 1.6, 1.05))
    assert by_speed("wasm", [fast, fast], policy).precision == "int8"
    assert (by_speed("wasm", [fast, tie], policy).decided_by, by_speed("wasm", [fast, tie], policy).precision) \
        == ("tie-rule", "fp32")
    d = by_speed("wasm", [fast, slow], policy)
    assert (d.decided_by, d.precision) == ("speed", "fp32")
    assert d.as_dict()["ratio"] == round(slow.ratio, 4)  # the record shows the configuration that decided
    nothing = by_speed("wasm", [], policy, note="not measured: no browser")
    assert (nothing.precision, nothing.decided_by) == ("fp32", "tie-rule") and "no browser" in nothing.reason


def test_median_interval_is_the_sign_test_interval():
    # n = 12 at alpha 0.0025: only the extremes (2 * 0.5**12 = 0.00049 <= 0.0025 < 2 * 13 / 4096)
    assert median_interval(list(range(12)), 0.0025) == (0, 11)
    # n = 24: 2 * P(X <= 3) = 0.00062 <= 0.0025 < 2 * P(X <= 4) = 0.0022... -> k = 5 at alpha 0.005
    assert median_interval(list(range(24)), 0.005) == (4, 19)
    assert median_interval([1.0] * 5, 0.0025) is None  # too few rounds for any interval
    assert Policy().looks() == [12, 24, 48, 96] and Policy(min_rounds=3, max_rounds=3).looks() == [3]
    with pytest.raises(ValueError):
        Policy(min_rounds=10, max_rounds=5)


def test_record_round_trips_and_garbage_is_refused():
    d = _decide(0.6, 3)
    rec = json.loads(json.dumps(d.as_dict()))
    back = Decision.from_dict("cpu", rec)
    assert back.as_dict() == rec  # copied, not re-measured: same numbers, same text
    fixed = decision.fixed("rpi", "fp32", "config", "set in edgepack.toml")
    assert Decision.from_dict("rpi", fixed.as_dict()).as_dict() == fixed.as_dict()
    for bad in ([], "int8", {"precision": "int8"}, {**rec, "decided_by": "pending"}, {**rec, "rule": 3},
                {**rec, "threshold": "1.05"}):
        with pytest.raises(ArtifactError, match=r"targets\.wasm") as err:
            Decision.from_dict("wasm", bad, "b/manifest.json")
        assert "edgepack quantize" in str(err.value)
    with pytest.raises(ValueError):
        Decision("cpu", "int8", "measured (node)", "rule")


def test_builders_read_the_record_and_never_measure():
    from edgepack.runtime.manifest import Manifest as _Manifest

    recorded = _decide(0.6, 5).as_dict()
    m = _Manifest({"precisions": {"fp32": {}, "int8": {}}, "targets": {"wasm": recorded}})
    assert decision.for_target(m, "wasm") == ("int8", None)  # the record stands, copied as is
    assert decision.for_target(m, "wasm", "auto") == ("int8", None)
    chosen, rec = decision.for_target(m, "wasm", "fp32")
    assert chosen == "fp32" and rec["decided_by"] == "config"
    # Numbers given by a caller follow the same rule: one pair is one round, too few: the tie rule.
    chosen, rec = decision.for_target(m, "wasm", None, {"fp32_ms": 1.0, "int8_ms": 0.5})
    assert (chosen, rec["decided_by"]) == ("fp32", "tie-rule")
    rounds = {"fp32_ms": [1.0] * 12, "int8_ms": [0.5] * 12}
    assert decision.for_target(m, "wasm", None, rounds)[0] == "int8"
    failed = _Manifest({**m.data, "parity": {"int8": {"ok": False}}})
    assert decision.for_target(failed, "wasm")[1]["decided_by"] == "accuracy"
    assert decision.for_target(_Manifest({"precisions": {"fp32": {}}}), "wasm") == ("fp32", None)
    legacy = _Manifest({**m.data, "targets": {"wasm": {"precision": "int8", "speed": {"status": "pending"}}}})
    with pytest.raises(ArtifactError, match="decided_by"):
        decision.for_target(legacy, "wasm")


def test_one_reader_of_recorded_precisions():
    """for_target's answer is always what the runtime's reader (Manifest.target_precision) returns
    for the same override: one rule for "recorded, else default, refused when missing"."""
    from edgepack.runtime.manifest import Manifest

    recorded = _decide(1.6, 5).as_dict()  # fp32, by speed
    both = {"fp32": {}, "int8": {}}
    cases = [Manifest({"precisions": both, "targets": {"wasm": recorded}}),
             Manifest({"precisions": both, "default_precision": "int8", "targets": {"wasm": recorded}}),
             Manifest({"precisions": {"int8": {}}, "targets": {"wasm": recorded}}),
             Manifest({"precisions": both, "default_precision": "int8", "targets": {}})]
    for m in cases:
        try:
            want = m.target_precision("wasm")
        except ArtifactError as exc:
            with pytest.raises(ArtifactError, match="no fp32 model"):
                decision.for_target(m, "wasm")
            assert "no fp32 model" in str(exc)
            continue
        chosen, _ = decision.for_target(m, "wasm")
        assert chosen in m.precisions
        if "int8" in m.precisions and "fp32" in m.precisions and m.data["targets"]:
            assert chosen == want == "fp32"
    # no record: the tie rule's fp32, never the artifact's default int8
    assert decision.for_target(cases[3], "wasm")[0] == "fp32"
    with pytest.raises(ArtifactError, match=r"no int4 model.*it has: fp32, int8"):
        decision.for_target(cases[0], "wasm", "int4")


# ---------------------------------------------------------------- real ONNX Runtime, capped rounds
def test_native_gate_records_the_decision_fields(sentiment_project, tmp_path):
    """The real gate on the sample (ORT CPU, fp32 vs a dynamic INT8), capped to a few rounds so CI
    spends no time on it: too few rounds for an interval, so the tie rule decides, with every field."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from edgepack.quantize import speed
    from edgepack.quantize.evalset import evaluation_set
    from edgepack.project import load_project

    project = load_project(sentiment_project)
    fp32 = project.build_dir / "model.fp32.onnx"
    q = tmp_path / "model.int8.onnx"
    quantize_dynamic(str(fp32), str(q), weight_type=QuantType.QInt8)
    feeds = evaluation_set(project, ["input_ids", "attention_mask"]).feeds[:8]
    policy = Policy(min_rounds=2, max_rounds=4)
    m = speed.measure(fp32, q, feeds, policy)
    assert m.rounds == 4 and m.verdict == "undecided" and m.interval is None
    assert all(v > 0 for v in m.fp32_ms + m.candidate_ms)
    for target in ("cpu", "rpi"):
        rec = speed.native_decision(target, m, policy).as_dict()
        assert (rec["precision"], rec["decided_by"]) == ("fp32", "tie-rule")
        assert rec["rule"] == policy.rule() and rec["threshold"] == 1.05 and rec["rounds"] == 4
        assert rec["ratio"] > 0 and rec["ratio_interval"] is None
        assert set(rec["medians_ms"]) == {"fp32", "int8"} and "onnxruntime" in rec["measured_on"]
        assert Decision.from_dict(target, rec).precision == "fp32"
    assert "re-measure on the device" in speed.native_decision("rpi", m, policy).reason


def test_decided_once_then_read_by_every_build(sentiment_project, tmp_path):
    """The quantize stage records one Decision per target in build/manifest.json; a skipped stage
    keeps it byte for byte, and two wasm builds from that build/ copy it (no re-measurement) into
    byte-identical bundle manifests."""
    import shutil

    from edgepack.project import load_project
    from edgepack.quantize import quantize_project, run_stage
    from edgepack.web.bundle import build_wasm_bundle

    src = tmp_path / "sentiment"
    shutil.copytree(sentiment_project, src, ignore=shutil.ignore_patterns("dist"))
    # Capped: 4 rounds can never clear a 99% interval, so every timed target takes the tie rule.
    policy = Policy(min_rounds=2, max_rounds=4, max_seconds=10)
    result = quantize_project(src, policy=policy, wasm_timing="node")
    targets = result.manifest["targets"]
    for target in ("cpu", "rpi", "wasm"):
        rec = targets[target]
        d = Decision.from_dict(target, rec)
        assert (d.precision, d.decided_by, d.rule) == ("fp32", "tie-rule", policy.rule())
        assert rec["threshold"] == 1.05 and rec["medians_ms"]["fp32"] > 0 and rec["medians_ms"]["int8"] > 0
        assert rec["rounds"] == 4 and rec["stopped_by"] == "round limit" and rec["measured_on"]
    assert "Node" in targets["wasm"]["measured_on"] and targets["wasm"]["probe"]["status"] == "ran"
    assert "timing" not in targets["wasm"]["probe"]  # the rounds live in the decision, once

    manifest_path = src / "build" / "manifest.json"
    before = manifest_path.read_bytes()
    assert run_stage(load_project(src)) == "skipped (inputs unchanged)"
    assert manifest_path.read_bytes() == before

    bundles = [build_wasm_bundle(src / "build", tmp_path / f"out{i}" / "sentiment-wasm", p, brotli_quality=1)
               for i, p in enumerate((None, "auto"))]
    assert [b.precision for b in bundles] == ["fp32", "fp32"] and [b.speed for b in bundles] == [None, None]
    texts = [(b.directory / "manifest.json").read_bytes() for b in bundles]
    assert texts[0] == texts[1]
    wasm = json.loads(texts[0])["targets"]["wasm"]
    assert {k: v for k, v in wasm.items() if k not in ("onnxruntime_web", "bundle_layout")} == targets["wasm"]
    assert manifest_path.read_bytes() == before  # building read the decision, wrote nothing back


def test_wasm_timing_setting_is_checked_before_any_work(sentiment_project, monkeypatch):
    from edgepack.errors import ProjectError
    from edgepack.quantize import quantize_project

    before = (sentiment_project / "build" / "manifest.json").read_bytes()
    monkeypatch.setenv("EDGEPACK_WASM_TIMING", "firefox")
    with pytest.raises(ProjectError, match="EDGEPACK_WASM_TIMING = 'firefox'.*auto, chromium, node, none"):
        quantize_project(sentiment_project)
    with pytest.raises(ProjectError, match="wasm_timing = 'safari'"):
        quantize_project(sentiment_project, wasm_timing="safari")
    assert (sentiment_project / "build" / "manifest.json").read_bytes() == before


def test_unusable_readings_are_dropped_not_decisive():
    bad = [(0.0, 1.0), (float("nan"), 1.0), (1.0, float("inf")), (-1.0, 0.5)] * 3
    m = decision.from_rounds([f for f, _ in bad], [c for _, c in bad], Policy(), "broken timer")
    assert m.ratio is None and m.verdict == "undecided"
    assert by_speed("wasm", [m], Policy()).decided_by == "tie-rule"
