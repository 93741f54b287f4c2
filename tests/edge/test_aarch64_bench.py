"""Benchmark rows for aarch64: the emulated row provider (`edgepack bench --target aarch64`) in
quick mode on the sentence embedder, and the device-side merge (bench.sh) held to the runner's."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tests.edge.conftest import _cache


def _worker_row(backend: str, round_: int) -> dict:
    rng = np.random.default_rng(round_)
    return {
        "backend": backend, "label": "x", "engine": "onnxruntime", "device": "cpu", "precision": "fp32", "threads": 1,
        "pid": 100 + round_, "status": "ok", "versions": {"onnxruntime": "1.27.0"}, "first_output": [0.5],
        "cold_start": {"total_ms": 900.0 + round_, "interpreter_ms": 50.0, "imports_ms": 400.0 + round_,
                       "load_ms": 300.0, "first_run_ms": 150.0},
        "rss_mb": {"after_first_result": 80.0 + round_, "peak": 90.0 + round_},
        "configs": [{"mode": m, "batch": b, "seq_len": 16, "latencies_ms": rng.uniform(1, 3, 9).round(5).tolist(),
                     "chunk_throughputs": rng.uniform(300, 500, 3).tolist()} for m in ("e2e", "model") for b in (1, 8)],
    }  # fmt: skip


def test_device_rounds_merge_like_the_bench():
    from edgepack.bench.stats import merge_rounds
    from edgepack.edge import devbench

    rows = [_worker_row("aarch64-ort-fp32", r) for r in range(3)]
    rows.append({"backend": "aarch64-ort-fp32", "label": "x", "status": "failed", "reason": "worker exited 1"})
    merged = devbench.merge_rounds(copy.deepcopy(rows))
    assert merged == merge_rounds(copy.deepcopy(rows))
    assert merged["rounds"] == 3 and merged["failed_rounds"] == ["worker exited 1"]
    assert merged["peak_rss_mb"]["median"] == 91.0
    assert len(merged["measurements"]) == 4  # (e2e, model) x batch (1, 8), pooled over the rounds


@pytest.mark.aarch64
@pytest.mark.slow
def test_emulated_row_provider_quick(embedder_project, arm64_python, aarch64_wheelhouse, monkeypatch):
    from edgepack.bench.backends import BenchRequest
    from edgepack.bench.runner import ROUNDS, TIMING, make_texts
    from edgepack.edge.bench import bench_rows
    from edgepack.runtime.manifest import load_manifest
    from edgepack.runtime.pipeline import Pipeline

    monkeypatch.setenv("EDGEPACK_CACHE", str(_cache()))  # the session's arm64 root and wheelhouse
    build = embedder_project / "build"
    manifest = load_manifest(build)
    tokenizer = Pipeline.load(build).tokenizer
    texts = {16: make_texts(tokenizer, 16, 8, list(manifest.data.get("examples") or []))}
    request = BenchRequest(project_root=embedder_project, build_dir=build, manifest=manifest.data, batch_sizes=(1, 8),
                           seq_lengths=(16,), texts=texts, quick=True, threads=1, rounds=ROUNDS["quick"],
                           timing=TIMING["quick"])
    rows = bench_rows(request)
    assert [r["backend"] for r in rows] == [f"aarch64-qemu-ort-{p}" for p in ("fp32", "int8") if p in manifest.precisions]
    for row in rows:
        assert row["status"] == "ok" and row["emulated"] is True, row
        assert "emulated" in row["label"] and "not Pi speed" in row["label"]
        assert row["versions"]["onnxruntime"] == aarch64_wheelhouse.wheels["onnxruntime"]["version"]
        assert row["loaded"]["torch"] is False and row["cold_start_ms"]["n"] == 1
        assert {(m["mode"], m["batch"], m["seq_len"]) for m in row["measurements"]} == {
            (mode, b, 16) for mode in ("e2e", "model") for b in (1, 8)}
        assert all(m["latency_ms"]["p50"] > 0 and m["latency_ms"]["n"] >= 2 for m in row["measurements"])
        # aarch64 code computed the same first embedding as x86 ONNX Runtime
        want = Pipeline.load(build, precision=row["precision"]).predict(texts[16][:1])[0]["embedding"][:64]
        assert np.abs(np.array(row["first_output"]) - np.array(want)).max() <= {"fp32": 1e-5, "int8": 1e-3}[row["precision"]]
