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
    quantize_project(project)  # exports first (the build is missing)
    data = json.loads((project / "build" / "manifest.json").read_text(encoding="utf-8"))
    assert "int8" in data["precisions"] and data["targets"]["wasm"]["speed"]["status"] in ("pending", "measured (node)")
    return project


def _wasm_target(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))["targets"]["wasm"]


# ---------------------------------------------------------------- the speed gate
@pytest.mark.parametrize("numbers, expected", [
    ({"fp32_ms": 1.0, "int8_ms": 0.6}, "int8"),
    ({"fp32_ms": 1.0, "int8_ms": 1.04}, "int8"),  # within max_slowdown (5%): noise, not a slowdown
    ({"fp32_ms": 1.0, "int8_ms": 1.06}, "fp32"),
    ({"fp32_ms": 1.0, "int8_ms": 1.5}, "fp32"),
])
def test_speed_decision_follows_numbers(numbers, expected):
    from edgepack.web.browser_bench import wasm_speed_decision

    decision = wasm_speed_decision("unused", measured=numbers, max_slowdown=0.05)
    assert decision["precision"] == expected and decision["speed"]["decided_precision"] == expected
    assert (decision["fp32_ms"], decision["int8_ms"]) == (numbers["fp32_ms"], numbers["int8_ms"])


def test_speed_gate_records_given_numbers_in_the_bundle(sentiment, tmp_path):
    """Numbers that favour int8 ship int8 (the real measurement below shows the other branch here)."""
    from edgepack.web.bundle import build_wasm_bundle

    numbers, expected = {"fp32_ms": 1.0, "int8_ms": 0.6}, "int8"

    result = build_wasm_bundle(sentiment / "build", tmp_path / "b", "auto", wasm_speed=numbers, brotli_quality=1)
    wasm = _wasm_target(result.directory)
    assert result.precision == expected == wasm["precision"]
    assert (wasm["fp32_ms"], wasm["int8_ms"]) == (numbers["fp32_ms"], numbers["int8_ms"])
    assert wasm["speed"]["status"] == "given" and wasm["speed"]["decided_precision"] == expected
    assert wasm["reason"].startswith("int8 was slower" if expected == "fp32" else "int8 is not slower")
    assert (result.directory / f"model.{expected}.onnx").is_file()


def test_forced_precision_skips_the_gate(sentiment):
    from edgepack.runtime.manifest import load_manifest
    from edgepack.web.bundle import _speed_gate

    manifest = load_manifest(sentiment / "build")
    # Numbers that would choose fp32 are ignored when the precision is given ...
    assert _speed_gate(manifest, "int8", {"fp32_ms": 1, "int8_ms": 9}, 0.05) == ("int8", None)
    # ... "auto" decides on them ...
    chosen, decision = _speed_gate(manifest, "auto", {"fp32_ms": 1, "int8_ms": 9}, 0.05)
    assert chosen == "fp32" == decision["precision"]
    # ... and None keeps what `edgepack quantize` recorded, unless it left the decision pending.
    wasm = manifest.data["targets"]["wasm"]
    chosen, decision = _speed_gate(manifest, None, {"fp32_ms": 9, "int8_ms": 1}, 0.05)
    if wasm["speed"]["status"] == "pending":
        assert chosen == "int8" == decision["precision"]
    else:
        assert (chosen, decision) == (wasm["precision"], None)


def test_gate_without_a_browser_ships_fp32(sentiment, monkeypatch):
    from edgepack.web import browser_bench

    monkeypatch.setattr(browser_bench, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setattr(browser_bench, "_node_timing", lambda _dir: None)
    decision = browser_bench.wasm_speed_decision(sentiment / "build")
    assert decision["precision"] == "fp32" and decision["reason"].startswith("not measured")
    assert decision["fp32_ms"] is None and decision["speed"]["status"] == "not measured"


@pytest.mark.parametrize("int8_ms, expected", [(2.0, "fp32"), (0.5, "int8")])
def test_gate_without_a_browser_uses_the_node_timing(sentiment, monkeypatch, int8_ms, expected):
    from edgepack.web import browser_bench

    monkeypatch.setattr(browser_bench, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setattr(browser_bench, "_node_timing",
                        lambda _dir: {"fp32_ms": 1.0, "int8_ms": int8_ms, "measured_with": "Node"})
    decision = browser_bench.wasm_speed_decision(sentiment / "build")
    assert decision["precision"] == expected
    assert decision["speed"]["status"] == "measured (node)" and "timed under Node" in decision["reason"]


def test_speed_gate_real_measurement(sentiment, tmp_path):
    """`edgepack build --target wasm` with precision auto: timed in Chromium, decision recorded."""
    from edgepack.web.bundle import build_wasm_bundle

    # where `edgepack build` puts it: the wasm bench below reuses it
    result = build_wasm_bundle(sentiment / "build", sentiment / "dist" / "sentiment-wasm", "auto", brotli_quality=1)
    wasm = _wasm_target(result.directory)
    speed = wasm["speed"]
    assert speed["status"] == "measured" and "Chromium" in speed["measured_with"]
    configs = speed["configs"]
    # one config per thread mode: a plain host (1 thread) and edgepack serve (isolated)
    assert sorted(c["isolated"] for c in configs) == [False, True]
    assert next(c for c in configs if not c["isolated"])["threads"] == 1
    for c in configs:
        assert c["fp32_ms"] > 0 and c["int8_ms"] > 0
        assert len(c["rounds"]["fp32"]) == len(c["rounds"]["int8"]) >= 5
    # the recorded pair is the configuration where int8 fares worst, and the decision follows it
    worst = max(configs, key=lambda c: c["int8_ms"] / c["fp32_ms"])
    assert (wasm["fp32_ms"], wasm["int8_ms"]) == (worst["fp32_ms"], worst["int8_ms"])
    expected = "int8" if wasm["int8_ms"] <= wasm["fp32_ms"] * (1 + speed["max_slowdown"]) else "fp32"
    assert wasm["precision"] == result.precision == expected
    print(f"\nwasm speed gate on the sentiment sample: {wasm['reason']}")


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
                                               stages=False))
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
    from edgepack.web.browser_bench import transfer_bytes

    (tmp_path / "index.html").write_bytes(b"x" * 100)
    (tmp_path / "a.wasm").write_bytes(b"y" * 1000)
    (tmp_path / "a.wasm.br").write_bytes(b"z" * 10)
    urls = [f"http://127.0.0.1:{port}/{f}" for port in (1, 2, 3) for f in ("", "a.wasm", "missing.js")]
    assert transfer_bytes(tmp_path, urls) == (110, ["a.wasm", "index.html"])
