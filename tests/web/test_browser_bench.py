"""`edgepack bench --target wasm` and the wasm speed gate, on the sentiment sample in real Chromium.

Structure and internal consistency only: never an absolute time. The gate's decision is checked to
follow the numbers it recorded, with injected numbers forcing each branch and one real measurement.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sentiment"


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    """A copy of the sample, exported and quantized (int8 passed its accuracy gate)."""
    from edgepack.quantize.stage import quantize_project

    project = tmp_path_factory.mktemp("bench") / "sentiment"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    quantize_project(project, wasm_timing="chromium")  # exports first (the build is missing)
    data = json.loads((project / "build" / "manifest.json").read_text(encoding="utf-8"))
    assert "int8" in data["precisions"] and data["targets"]["wasm"]["decided_by"] in ("speed", "tie-rule")
    return project


def _wasm_target(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))["targets"]["wasm"]


# ---------------------------------------------------------------- the speed gate
def test_quantize_timed_wasm_in_chromium(sentiment):
    """`edgepack quantize` (the fixture) made the wasm decision once, timed in Chromium, both thread modes."""
    from edgepack.quantize.decision import Decision

    wasm = json.loads((sentiment / "build" / "manifest.json").read_text(encoding="utf-8"))["targets"]["wasm"]
    d = Decision.from_dict("wasm", wasm)
    assert "Chromium" in wasm["measured_on"] and d.rule.startswith("int8 ships when")
    assert sorted(m["isolated"] for m in wasm["measurements"]) == [False, True]
    worst = max(wasm["measurements"], key=lambda m: m["ratio"])
    assert wasm["ratio"] == worst["ratio"]  # the record shows the configuration where int8 fares worst
    lo, hi = wasm["ratio_interval"] or (None, None)
    if d.decided_by == "speed":
        assert (hi < 1.05) if d.precision == "int8" else (lo > 1.05)
    else:
        assert d.precision == "fp32" and wasm["stopped_by"] in ("round limit", "time limit")
    print(f"\nwasm decision on the sentiment sample: {wasm['reason']}")


def test_given_rounds_are_decided_by_the_same_rule_and_recorded(sentiment, tmp_path):
    from edgepack.web.bundle import build_wasm_bundle

    rounds = {"fp32_ms": [1.0] * 12, "int8_ms": [0.6] * 12}
    result = build_wasm_bundle(sentiment / "build", tmp_path / "b", "auto", wasm_speed=rounds, brotli_quality=1)
    wasm = _wasm_target(result.directory)
    assert result.precision == "int8" == wasm["precision"] and wasm["decided_by"] == "speed"
    assert wasm["medians_ms"] == {"fp32": 1.0, "int8": 0.6} and wasm["rounds"] == 12
    assert (result.directory / "model.int8.onnx").is_file()


def test_forced_precision_is_recorded_as_config(sentiment):
    from edgepack.quantize.decision import for_target
    from edgepack.runtime.manifest import load_manifest

    manifest = load_manifest(sentiment / "build")
    chosen, record = for_target(manifest, "wasm", "int8", {"fp32_ms": [1] * 12, "int8_ms": [9] * 12})
    assert chosen == "int8" and record["decided_by"] == "config"
    # None and "auto" read what `edgepack quantize` recorded: nothing is measured here
    recorded = manifest.data["targets"]["wasm"]["precision"]
    assert for_target(manifest, "wasm") == for_target(manifest, "wasm", "auto") == (recorded, None)


def test_speed_gate_real_measurement(sentiment, browser):
    """The Chromium rounds themselves, capped (CI time): one measurement per thread mode, in the
    session's browser (a caller's browser is used as given, on the caller's thread)."""
    from edgepack.quantize.decision import Policy
    from edgepack.web.gate import measure_precisions

    policy = Policy(min_rounds=3, max_rounds=6)
    got = measure_precisions(sentiment / "build", policy=policy, browser=browser)
    assert sorted(m.details["isolated"] for m in got) == [False, True]
    assert next(m for m in got if not m.details["isolated"]).details["threads"] == 1
    for m in got:
        assert m.rounds == 6 and m.verdict == "undecided" and m.stopped_by == "round limit"  # 6 rounds: no interval
        assert all(v > 0 for v in m.fp32_ms + m.candidate_ms) and "Chromium" in m.measured_on


# ---------------------------------------------------------------- edgepack bench --target wasm
def _sent(bundle: Path, rel: str) -> int:
    """Bytes edgepack serve sends for ``rel`` to Chromium (accepts br, gzip): .br, else .gz, else the file."""
    for suffix in (".br", ".gz", ""):
        if (bundle / f"{rel}{suffix}").is_file():
            return (bundle / f"{rel}{suffix}").stat().st_size
    raise AssertionError(f"{rel} is not in {bundle}")


def test_quick_wasm_bench_rows(sentiment):
    from edgepack.bench.report import render
    from edgepack.bench.runner import BenchOptions, run_bench
    from edgepack.web.browser_bench import GOALS, summary_lines

    report = run_bench(sentiment, BenchOptions(quick=True, batch_sizes=(1,), backends=["ort-fp32"], target="wasm",
                                               breakdown=False))
    rows = {r["backend"]: r for r in report["backends"] if r.get("target") == "wasm"}
    assert set(rows) == {"wasm-fp32-1t", "wasm-fp32-nt", "wasm-int8-1t", "wasm-int8-nt"}, rows
    assert render(report)  # the report's renderers take the browser rows
    print("\n" + "\n".join(summary_lines(list(rows.values()))))
    seq = report["settings"]["seq_lengths"][0]
    for name, r in rows.items():
        assert r["status"] == "ok" and not r["page_errors"], (name, r["page_errors"])
        isolated = name.endswith("-nt")
        assert r["cross_origin_isolated"] is isolated and r["simd"] is True
        assert r["threads"] == (min(4, os.cpu_count()) if isolated else 1)
        # cold start: navigation -> first result, after the page was ready
        cs, ready = r["cold_start_ms"], r["ready_ms"]
        assert cs["n"] == r["visits"] >= 1 and 0 < ready["median"] <= cs["median"]
        e2e, model = r["measurements"]
        assert (e2e["mode"], e2e["batch"], e2e["seq_len"]) == ("e2e", 1, seq) and model["mode"] == "model"
        for m in (e2e, model):
            lat = m["latency_ms"]
            assert lat["n"] >= 3 and 0 <= lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"]
        assert model["latency_ms"]["p50"] <= e2e["latency_ms"]["p50"] + r["timer_resolution_ms"]
        # ratios are computed from the numbers in the row, against native measured in the same run
        nat = r["native"]
        assert nat["threads"] >= 1 and nat["e2e_ms"]["n"] >= 3
        assert r["vs_native"]["e2e_p50_ratio"] == pytest.approx(e2e["latency_ms"]["p50"] / nat["e2e_ms"]["p50"])
        # transfer: the brotli bytes of exactly the bundle files the page fetched
        bundle = Path(r["bundle"])
        precision = r["precision"]
        assert f"model.{precision}.onnx" in r["transfer_files"]
        assert {"index.html", "ort/ort-wasm-simd-threaded.wasm", "tokenizer.json"} <= set(r["transfer_files"])
        assert r["transfer_bytes"] == sum(_sent(bundle, f) for f in r["transfer_files"])
        # edgepack serve sends the .br copies to Chromium: what crossed the wire are those bytes
        observed = r["transfer_observed"]
        assert observed["ort/ort-wasm-simd-threaded.wasm"] == (bundle / "ort/ort-wasm-simd-threaded.wasm.br").stat().st_size
        for f, size in observed.items():
            if f in r["transfer_files"]:
                assert size == _sent(bundle, f), f
        goals = {g["key"]: g for g in r["wasm_goals"]}
        assert set(goals) == {k for k, *_ in GOALS}
        for g in goals.values():
            assert g["met"] == (g["value"] <= g["target"])
        assert goals["transfer"]["value"] == r["transfer_bytes"]
    # int8 and fp32 bundles differ only in the model file they fetch
    f32, i8 = rows["wasm-fp32-nt"]["transfer_files"], rows["wasm-int8-nt"]["transfer_files"]
    assert set(f32) - {"model.fp32.onnx"} == set(i8) - {"model.int8.onnx"}
    # bundles: the shipped one when it holds that precision (reused), else built once under dist/bench/
    shipped = sentiment / "dist" / "sentiment-wasm"
    shipped_precision = _wasm_target(shipped)["precision"] if (shipped / "manifest.json").is_file() else None
    for r in rows.values():
        want = shipped if r["precision"] == shipped_precision else sentiment / "dist" / "bench" / f"wasm-{r['precision']}"
        assert Path(r["bundle"]) == want


def test_transfer_counts_each_file_once_across_visits(tmp_path):
    """Every visit has its own server port: a file fetched on three visits is downloaded once per visit."""
    from edgepack.web.bench_bundles import transfer_bytes

    (tmp_path / "index.html").write_bytes(b"x" * 100)
    (tmp_path / "a.wasm").write_bytes(b"y" * 1000)
    (tmp_path / "a.wasm.br").write_bytes(b"z" * 10)
    urls = [f"http://127.0.0.1:{port}/{f}" for port in (1, 2, 3) for f in ("", "a.wasm", "missing.js")]
    assert transfer_bytes(tmp_path, urls) == (110, ["a.wasm", "index.html"])
