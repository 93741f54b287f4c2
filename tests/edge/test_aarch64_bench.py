"""Benchmark rows for aarch64: the emulated row provider (`edgepack bench --target aarch64`) in
quick mode on the sentence embedder. Its rounds, like bench.sh's, go through the bench's one worker
loop (edgepack.bench.worker.run_rounds), tested in tests/bench."""

from __future__ import annotations

import numpy as np
import pytest

from tests.repo_support import cache


@pytest.mark.aarch64
@pytest.mark.slow
def test_emulated_row_provider_quick(embedder_project, arm64_python, aarch64_wheelhouse, monkeypatch):
    from edgepack.bench.backends import BenchRequest
    from edgepack.bench.runner import ROUNDS, TIMING, make_texts
    from edgepack.edge.bench import bench_rows
    from edgepack.runtime.manifest import load_manifest
    from edgepack.runtime.pipeline import Pipeline

    monkeypatch.setenv("EDGEPACK_CACHE", str(cache()))  # the session's arm64 root and wheelhouse
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
