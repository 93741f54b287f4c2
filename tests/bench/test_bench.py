"""`edgepack bench`: quick-mode smoke test of the CLI and its reports, bad input, target rows, the worker loop.

Times are never asserted (this runs on busy 2-core CI machines); what is asserted is the report's
structure, that every ratio is computed from the measured numbers beside it, and clear errors.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgepack.bench import stats
from edgepack.bench.backends import row_provider
from edgepack.bench.errors import BenchUsageError
from edgepack.bench.breakdown import ort_node_part
from edgepack.bench.runner import BenchOptions, make_report, make_texts, native_rows, plan_bench, run_bench, target_rows
from edgepack.bench.worker import run_rounds
from edgepack.errors import TargetError
from edgepack.runtime.session import capabilities

REPO = Path(__file__).resolve().parents[2]


def _bench_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "edgepack.cli", "bench", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


def _rel(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


@pytest.fixture(scope="module")
def quick_report(sentiment_project, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-out")
    result = _bench_cli(sentiment_project, "--quick", "--batch-sizes", "1,4", "--seq-lengths", "8,16",
                       "--backends", "torch-eager,ort-fp32,ort-int8", "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), out, sentiment_project


def test_quick_cli_writes_json_md_png(quick_report):
    report, out, _ = quick_report
    assert report["format"] == "edgepack-bench" and report["format_version"] == 2 and report["ok"]
    assert report["mode"] == "quick"
    assert report["settings"]["batch_sizes"] == [1, 4] and report["settings"]["seq_lengths"] == [8, 16]
    on_disk = json.loads((out / "report.json").read_text())
    assert {k: v for k, v in on_disk.items()} == {k: v for k, v in report.items() if k != "files"}
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "Reproduce: `edgepack bench" in md and "| torch-eager |" in md and "| ort-fp32 |" in md
    assert "Time breakdown" in md and "Goals" in md
    # the generated inputs really have the requested token counts
    assert report["inputs"]["8"]["token_lengths"] == [8] and report["inputs"]["16"]["token_lengths"] == [16]


def test_rows_measure_every_configuration_in_their_own_process(quick_report):
    report, _, project = quick_report
    rows = {r["backend"]: r for r in report["backends"]}
    assert list(rows) == ["torch-eager", "ort-fp32", "ort-int8"]
    for name in ("torch-eager", "ort-fp32"):
        row = rows[name]
        assert row["status"] == "ok", row
        assert row["threads"] == report["settings"]["threads"] >= 1
        got = {(m["mode"], m["batch"], m["seq_len"]) for m in row["measurements"]}
        assert got == {(mode, b, s) for mode in ("e2e", "model") for b in (1, 4) for s in (8, 16)}
        for m in row["measurements"]:
            lat = m["latency_ms"]
            assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
            assert _rel(m["throughput"], m["batch"] * 1000.0 / lat["p50"])
            assert m["throughput_realized"]["n"] >= 7
        assert row["cold_start_ms"]["median"] > 0 and row["peak_rss_mb"]["median"] > 0
    # each backend's memory is its own: the ONNX Runtime process never loaded torch
    assert rows["ort-fp32"]["loaded"]["torch"] is False and rows["torch-eager"]["loaded"]["torch"] is True
    # the two engines computed the same probabilities for the first text
    assert rows["ort-fp32"]["vs_torch"]["first_output_max_abs_diff"] < 1e-4
    manifest = json.loads((project / "build" / "manifest.json").read_text())
    if "int8" not in manifest["precisions"]:
        assert rows["ort-int8"]["status"] == "skipped"
        assert "edgepack quantize" in rows["ort-int8"]["reason"]
    flags = report["system"]["cpu"]["flags"]
    assert {"AVX2", "AVX-512F", "AVX-512 VNNI"} <= set(flags) or report["system"]["cpu"]["arch"] != "x86_64"


def test_ratios_are_computed_from_the_measured_numbers(quick_report):
    report, _, _ = quick_report
    rows = {r["backend"]: r for r in report["backends"] if r["status"] == "ok"}
    ref = rows["torch-eager"]
    index = {(m["mode"], m["batch"], m["seq_len"]): m for m in ref["measurements"]}
    for row in rows.values():
        for m in row["measurements"]:
            base = index[(m["mode"], m["batch"], m["seq_len"])]
            assert _rel(m["vs_torch"]["throughput"], m["throughput"] / base["throughput"])
            assert _rel(m["vs_torch"]["throughput_realized"],
                       m["throughput_realized"]["median"] / base["throughput_realized"]["median"])
        vs = row["vs_torch"]
        assert _rel(vs["cold_start_speedup"], ref["cold_start_ms"]["median"] / row["cold_start_ms"]["median"])
        assert _rel(vs["peak_rss_ratio"], row["peak_rss_mb"]["median"] / ref["peak_rss_mb"]["median"])
    goals = {g["key"]: g for g in report["goals"]}
    subject = rows.get("ort-int8") or rows["ort-fp32"]
    assert goals["throughput_b1"]["backend"] == subject["backend"]
    b1 = next(m for m in subject["measurements"] if (m["mode"], m["batch"], m["seq_len"]) == ("e2e", 1, 8))
    assert _rel(goals["throughput_b1"]["value"], b1["vs_torch"]["throughput"])
    assert goals["throughput_b1"]["met"] == (goals["throughput_b1"]["value"] >= 5)
    assert goals["throughput_b32"]["value"] is None and "not measured" in goals["throughput_b32"]["note"]
    assert _rel(goals["peak_rss"]["value"], subject["vs_torch"]["peak_rss_ratio"])
    assert _rel(goals["cold_start"]["value"], subject["vs_torch"]["cold_start_speedup"])


def test_breakdown_puts_the_lstm_in_its_part_for_both_engines(quick_report):
    report, _, _ = quick_report
    bd = report["breakdown"]
    assert "stages" not in report  # "stage" is the build pipeline's word
    assert bd["module_map"] == {"embedding": "embedding", "lstm": "recurrent/encoder", "fc": "linear"}
    assert {"torch-eager", "ort-fp32"} <= set(bd["columns"])
    for part in ("tokenization", "embedding", "recurrent/encoder", "linear", "softmax"):
        for col in ("torch-eager", "ort-fp32"):
            assert bd["parts"][part][col] > 0, (part, col)
    for col in ("torch-eager", "ort-fp32"):
        assert bd["totals"][col]["unprofiled_model_p50_us"] > 0
    ort_nodes = {n["op"]: n["part"] for n in bd["top_nodes"]["ort-fp32"]}
    assert ort_nodes.get("LSTM") == "recurrent/encoder"


def test_a_format_1_report_still_renders_its_breakdown(quick_report):
    """Reports saved before the rename keep the breakdown under `stages` (rows under `stages` too)."""
    from edgepack.bench.report import breakdown_section, render

    report, _, _ = quick_report
    old = {k: v for k, v in report.items() if k != "breakdown"}
    bd = report["breakdown"]
    old["stages"] = {**{k: v for k, v in bd.items() if k != "parts"}, "stages": bd["parts"]}
    old["format_version"] = 1
    assert breakdown_section(old, markdown=True) == breakdown_section(report, markdown=True) != ""
    assert render(old, markdown=True) == render(report, markdown=True)


@pytest.mark.parametrize("flag", ["--no-breakdown", "--no-stages"])
def test_no_breakdown_skips_the_profiled_pass(sentiment_project, tmp_path, flag):
    """--no-stages is the hidden, deprecated name of --no-breakdown: it still works and says so."""
    result = _bench_cli(sentiment_project, "--quick", "--batch-sizes", "1", "--seq-lengths", "8",
                       "--backends", "ort-fp32", flag, "--out", tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backends"][0]["status"] == "ok" and report["breakdown"]["columns"] == []
    note = "--no-stages is deprecated; use --no-breakdown"
    assert (note in result.stderr) == (flag == "--no-stages")
    assert "Time breakdown" not in (tmp_path / "report.md").read_text()


def test_help_names_only_the_new_flag():
    result = _bench_cli("--help")
    assert result.returncode == 0 and "--no-breakdown" in result.stdout and "--no-stages" not in result.stdout


# ---------------------------------------------------------------- bad input
def test_unknown_backend_is_named():
    result = _bench_cli("samples/sentiment", "--backends", "ort-fp32,tensorrt")
    assert result.returncode == 2
    assert "tensorrt" in result.stderr and "torch-eager" in result.stderr


@pytest.mark.parametrize("sizes", ["0", "1,-8", "x"])
def test_batch_size_must_be_positive(sizes):
    result = _bench_cli("samples/sentiment", "--batch-sizes", sizes)
    assert result.returncode == 2
    assert "--batch-sizes" in result.stderr


def test_library_rejects_bad_batch_size(sentiment_project):
    with pytest.raises(BenchUsageError, match="batch size"):
        run_bench(sentiment_project, BenchOptions(batch_sizes=(0,)))


@pytest.mark.skipif(capabilities().cuda, reason="this machine has CUDA")
@pytest.mark.parametrize("backend", ["ort-cuda-fp32", "torch-cuda"])
def test_cuda_requested_where_there_is_none(sentiment_project, backend):
    result = _bench_cli(sentiment_project, "--backends", backend, "--quick")
    assert result.returncode == 7, result.stderr
    assert "CUDA is not available here" in result.stderr and "Traceback" not in result.stderr


def test_project_without_a_built_model_says_what_to_run(tmp_path):
    project = tmp_path / "sentiment"
    shutil.copytree(REPO / "samples" / "sentiment", project, ignore=shutil.ignore_patterns("build", "dist"))
    result = _bench_cli(project, "--quick")
    assert result.returncode == 5
    assert "edgepack export" in result.stderr and "Traceback" not in result.stderr


def test_seq_length_beyond_max_length(sentiment_project):
    result = _bench_cli(sentiment_project, "--seq-lengths", "65", "--quick")
    assert result.returncode == 2 and "max_length 64" in result.stderr


# ---------------------------------------------------------------- other targets' rows
def test_target_rows_join_the_report(sentiment_project):
    from edgepack.runtime.pipeline import Pipeline

    def provider(request):
        # a real measurement (in-process ORT), shaped like a target's rows
        pipe = Pipeline.load(request.build_dir)
        rows = []
        for batch in request.batch_sizes:
            texts = request.texts[request.seq_lengths[0]][:batch]
            lat = []
            for _ in range(5):
                t0 = time.perf_counter()
                pipe(texts)
                lat.append((time.perf_counter() - t0) * 1e3)
            rows.append(stats.measurement("e2e", batch, request.seq_lengths[0], lat, [batch * 1e3 / np.mean(lat)]))
        return [{"backend": "fake-wasm", "label": "in-process stand-in", "status": "ok", "measurements": rows}]

    plan = plan_bench(sentiment_project, BenchOptions(quick=True, batch_sizes=(1,), backends=["ort-fp32"],
                                                      target="aarch64", breakdown=False))
    assert plan.provider is row_provider("aarch64")  # resolved before anything is measured
    rows = native_rows(plan) + target_rows(plan, provider)
    report = make_report(plan, rows, {"before": None, "after": None}, 0.0)
    rows = {r["backend"]: r for r in report["backends"]}
    assert rows["fake-wasm"]["target"] == "aarch64" and rows["ort-fp32"]["status"] == "ok"
    assert rows["fake-wasm"]["measurements"][0]["batch"] == 1
    assert report["target"] == "aarch64" and report["command"] == f"edgepack bench {sentiment_project}"


def test_unknown_target_provider():
    with pytest.raises(TargetError, match=r"unknown target \(known: native, wasm, aarch64\)"):
        row_provider("riscv")


# ---------------------------------------------------------------- the one worker loop (native, qemu, bench.sh)
# A stand-in worker: the real protocol (argv, result file), a scripted outcome per backend.
FAKE_WORKER = r"""
import json, os, sys, time
spec, name, spawn_t, out = sys.argv[-4:]
log = os.path.join(os.path.dirname(spec), "order.log")
with open(log, "a") as f:
    f.write(name + "\n")
rnd = sum(1 for line in open(log) if line.strip() == name) - 1
if name == "dies":
    sys.stderr.write("boom\n"); sys.exit(3)
if name == "hangs":
    time.sleep(30)
if name == "flaky" and rnd == 1:
    sys.exit(1)
row = {"backend": name, "label": name, "status": "ok", "engine": "onnxruntime", "device": "cpu",
       "precision": "fp32", "threads": 1, "pid": os.getpid(), "first_output": [0.5],
       "cold_start": {"total_ms": (time.monotonic() - float(spawn_t)) * 1e3, "interpreter_ms": 1.0,
                      "imports_ms": 1.0, "load_ms": 1.0, "first_run_ms": 1.0},
       "rss_mb": {"after_first_result": 80.0 + rnd, "peak": 90.0 + rnd},
       "configs": [{"mode": m, "batch": b, "seq_len": 16, "latencies_ms": [1.0 + rnd, 2.0, 3.0],
                    "chunk_throughputs": [400.0 + rnd]} for m in ("e2e", "model") for b in (1, 8)]}
json.dump(row, open(out, "w"))
"""


def _backends(*names):
    return {n: {"name": n, "label": n} for n in names}


def test_rounds_interleave_and_merge(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text("{}")
    said = []
    rows = run_rounds(_backends("a", "b", "c"), 3, spec, python=[sys.executable, "-c", FAKE_WORKER], progress=said.append)
    order = (tmp_path / "order.log").read_text().split()
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # round r starts r places further on
    assert [r["backend"] for r in rows] == ["a", "b", "c"] and len(said) == 9
    for row in rows:
        assert row["status"] == "ok" and row["rounds"] == 3 and row["failed_rounds"] == []
        assert row["peak_rss_mb"]["median"] == 91.0 and row["cold_start_ms"]["n"] == 3
        assert len(row["measurements"]) == 4  # (e2e, model) x batch (1, 8), pooled over the rounds
        assert all(m["latency_ms"]["n"] == 9 for m in row["measurements"])
    assert not list(tmp_path.glob("*-*.json"))  # result files are consumed


def test_a_worker_that_fails_or_hangs_is_a_failed_row(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text("{}")
    rows = run_rounds(_backends("ok", "dies", "hangs"), 1, spec, python=[sys.executable, "-c", FAKE_WORKER],
                      timeout=3)
    by = {r["backend"]: r for r in rows}
    assert by["ok"]["status"] == "ok"
    assert by["dies"]["status"] == "failed" and by["dies"]["reason"].startswith("worker exited with code 3")
    assert "boom" in by["dies"]["reason"]
    assert by["hangs"]["status"] == "failed" and by["hangs"]["reason"] == "worker timed out after 3s"


def test_one_failed_round_is_reported_beside_the_merged_ones(tmp_path):
    plain, profiled = tmp_path / "spec.json", tmp_path / "spec-breakdown.json"
    plain.write_text("{}")
    profiled.write_text("{}")
    calls = []

    def spec_for(name, round_):  # the native runner's breakdown pass: another spec for round 0
        calls.append((name, round_))
        return profiled if round_ == 0 else plain

    rows = run_rounds(_backends("flaky"), 3, spec_for, python=[sys.executable, "-c", FAKE_WORKER])
    assert calls == [("flaky", 0), ("flaky", 1), ("flaky", 2)]
    row = rows[0]
    assert row["status"] == "ok" and row["rounds"] == 2 and len(row["failed_rounds"]) == 1
    assert row["failed_rounds"][0].startswith("worker exited with code 1 and no result")


# ---------------------------------------------------------------- units
def test_percentiles_match_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100):
        xs = rng.exponential(size=n).tolist()
        for q in (50, 90, 99):
            assert stats.percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))


def test_make_texts_hits_exact_token_counts(sentiment_project):
    from edgepack.runtime.encoder import BatchEncoder
    from edgepack.runtime.manifest import load_manifest

    tok = BatchEncoder.from_manifest(load_manifest(sentiment_project / "build")).tokenizer
    texts = make_texts(tok, 12, 5, ["the movie was great", "terrible food and cold service"])
    assert len(set(texts)) == 5
    assert {len(tok.encode(t).ids) for t in texts} == {12}


@pytest.mark.parametrize("name,op,part", [
    ("/inner/lstm/LSTM", "LSTM", "recurrent/encoder"),
    ("/inner/embedding/Gather", "Gather", "embedding"),
    ("/inner/fc/Gemm", "Gemm", "linear"),
    ("/inner/fc/Gemm_quant", "MatMulInteger", "linear"),
    ("/Softmax", "Softmax", "softmax"),
    ("/inner/ReduceSum", "ReduceSum", "other ops"),
    ("/bert/encoder/layer.0/attention/self/MatMul", "MatMul", "recurrent/encoder"),
])
def test_onnx_nodes_are_classified(name, op, part):
    prefixes = [("/embedding/", "embedding"), ("/lstm/", "recurrent/encoder"), ("/fc/", "linear")]
    assert ort_node_part(name, op, prefixes) == part


def test_target_goals_are_rendered_per_row():
    from edgepack.bench.report import target_goals_section

    report = {"backends": [{"backend": "wasm-fp32-nt", "wasm_goals": [
        {"key": "latency_vs_native", "goal": "latency ≤ 2.5× native", "value": 3.1, "met": False},
        {"key": "transfer", "goal": "transfer ≤ 4.5 MB", "value": 2_884_156, "met": True},
        {"key": "cold_start", "goal": "cold start ≤ 1 s", "value": None, "met": None}]}]}
    lines = target_goals_section(report, markdown=True)
    assert lines == ["- ✗ latency ≤ 2.5× native: 3.10× [wasm-fp32-nt]",
                     "- ✓ transfer ≤ 4.5 MB: 2.88 MB [wasm-fp32-nt]",
                     "- – cold start ≤ 1 s: not measured [wasm-fp32-nt]"]
