from __future__ import annotations

import shlex
import sys

import click

from edgepack.cli import emit_json, json_option
from edgepack.progress import Progress


def _int_list(ctx, param, value):
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    out = []
    for p in parts:
        try:
            n = int(p)
        except ValueError:
            raise click.BadParameter(f"{p!r} is not a whole number (example: 1,8,32)") from None
        if n <= 0:
            raise click.BadParameter(f"{n} must be positive (example: 1,8,32)")
        out.append(n)
    if not out:
        raise click.BadParameter("give at least one value (example: 1,8,32)")
    return tuple(out)


def _deprecated_no_stages(ctx, param, value):
    # --no-stages: the old name, from when the time breakdown was called "stages" (a word now kept
    # for the build pipeline's export / quantize / build). Still works; says so once.
    if value:
        click.echo("edgepack bench: --no-stages is deprecated; use --no-breakdown", err=True)
    return value


@click.command()
@click.argument("project", type=click.Path())
@click.option("--target", type=click.Choice(["native", "wasm", "aarch64"]), default="native", show_default=True,
              help="native: this machine's CPU/GPU; wasm / aarch64: rows from those targets' benchmarks.")
@click.option("--backends", default=None, metavar="LIST",
              help="Comma-separated: torch-eager, ort-fp32, ort-int8, ort-cuda-fp32, ort-cuda-fp16, torch-cuda "
                   "(default: all; those that cannot run here are reported as skipped).")
@click.option("--batch-sizes", default="1,8,32", show_default=True, callback=_int_list, metavar="LIST")
@click.option("--seq-lengths", default=None, callback=_int_list, metavar="LIST",
              help="Token counts of the generated inputs (default: 16 quick, 16,64 full; capped at max_length).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Intra-op threads for every backend (default: physical cores, at most 4).")
@click.option("--rounds", type=click.IntRange(min=1), default=None,
              help="Interleaved rounds, one fresh process per backend each (default: 1 quick, 3 full).")
@click.option("--quick", is_flag=True, help="Seconds, not minutes: fewer samples, one round (CI smoke tests).")
@click.option("--no-breakdown", is_flag=True, help="Skip the profiled time breakdown (where one call's µs go).")
@click.option("--no-stages", is_flag=True, hidden=True, callback=_deprecated_no_stages,
              help="Deprecated name of --no-breakdown.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Where report.json, report.md and report.png go (default: PROJECT/dist/bench).")
@json_option
def bench(project, target, backends, batch_sizes, seq_lengths, threads, rounds, quick, no_breakdown, no_stages, out,
          as_json):
    """Benchmark PROJECT: PyTorch eager vs ONNX Runtime fp32 / int8 (CPU, and CUDA when present).

    Each backend runs in its own process (its own peak RSS and cold start); latency p50/p90/p99 and
    throughput per batch size, end-to-end (tokenizer included) and model-only, with ratios against
    PyTorch eager, a time breakdown (tokenization, embedding, encoder, ... in µs), and artifact /
    install sizes. Prints the table; writes report.json, report.md and report.png.

    \b
    Example:
      edgepack bench samples/sentiment
      edgepack bench samples/sentiment --quick --json | jq '.goals'
      edgepack bench samples/sentiment --backends torch-eager,ort-int8 --batch-sizes 1,32
    """
    from pathlib import Path

    from edgepack.bench.report import render, write_reports
    from edgepack.bench.runner import BenchOptions, run_bench
    from edgepack.project import load_project

    command = "edgepack bench " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 2 \
        and sys.argv[1] == "bench" else None
    options = BenchOptions(backends=backends, batch_sizes=batch_sizes, seq_lengths=seq_lengths, quick=quick,
                           threads=threads, rounds=rounds, target=target,
                           breakdown=not (no_breakdown or no_stages), command=command)
    report = run_bench(project, options, progress=Progress(enabled=not as_json))
    out_dir = Path(out) if out else load_project(project).dist_dir / "bench"
    report["files"] = write_reports(report, out_dir)
    if as_json:
        emit_json(report)
        return
    click.echo(render(report))
    click.echo(f"wrote {', '.join(report['files'].values())}", err=True)
