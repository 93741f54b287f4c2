"""`edgepack bench --target wasm` on a feature-extraction model (samples/minilm-embedder) in real
Chromium: the page times embed() as it times classify() for a classifier. Structure only, never an
absolute time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.repo_support import fresh_copy

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_quick_wasm_bench_times_an_embedder(built_sample, tmp_path):
    pytest.importorskip("transformers", reason="the hf extra (transformers) is needed to export the HF-format sample")
    from edgepack.bench.runner import BenchOptions, run_bench
    from edgepack.web.browser_bench import summary_lines

    project = fresh_copy(built_sample("minilm-embedder"), tmp_path)  # fp32 only: bench writes dist/bench/
    report = run_bench(project, BenchOptions(quick=True, batch_sizes=(1,), backends=["ort-fp32"], target="wasm",
                                             breakdown=False))
    rows = {r["backend"]: r for r in report["backends"] if r.get("target") == "wasm"}
    print("\n" + "\n".join(summary_lines(list(rows.values()))))
    assert set(rows) == {"wasm-fp32-1t", "wasm-fp32-nt"}, rows
    for name, r in rows.items():
        assert r["status"] == "ok" and not r["page_errors"], (name, r.get("reason"), r.get("page_errors"))
        e2e, model = r["measurements"]
        assert e2e["latency_ms"]["n"] >= 3 and 0 < model["latency_ms"]["p50"] <= e2e["latency_ms"]["p50"] + r["timer_resolution_ms"]
        assert r["native"]["e2e_ms"]["n"] >= 3 and r["vs_native"]["e2e_p50_ratio"] > 0
        assert "model.fp32.onnx" in r["transfer_files"] and r["transfer_bytes"] > 0
        assert Path(r["bundle"]) == project / "dist" / "bench" / "wasm-fp32"
