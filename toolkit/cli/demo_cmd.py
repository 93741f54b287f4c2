from __future__ import annotations

import click

from edgepack.cli import emit_json, json_option
from edgepack.progress import Progress


@click.command()
@click.argument("project", type=click.Path(), default="samples/sentiment")
@click.option("--precision", default=None, help="fp32 or int8 (default: the build's default).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--seconds", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="How long the throughput test runs.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="ONNX Runtime intra-op threads.")
@json_option
def demo(project, precision, batch_size, seconds, threads, as_json):
    """Replay the seed example on ONNX Runtime: one text, a batch of 4, throughput.

    Builds PROJECT first if needed (export stage), then classifies with the same tokenizer and
    model every target uses, and measures end-to-end throughput (tokenizer included).

    \b
    Example:
      edgepack demo samples/sentiment
      edgepack demo samples/sentiment --batch-size 1 --seconds 5 --json
    """
    from edgepack.demo import run_demo

    result = run_demo(project, precision=precision, batch_size=batch_size, seconds=seconds, threads=threads,
                      progress=Progress(enabled=not as_json))
    if as_json:
        emit_json(result)
        return
    st = result["self_test"]
    click.echo(f"model: {result['model']} ({result['precision']}), self-test "
               f"{'passed' if st['ok'] else 'FAILED'} on {st['checked']} golden vectors")
    single = result["single"]
    click.echo(f"\nText: {single['text']!r}")
    click.echo(f"Prediction: {single['label']} ({single['score']:.4f})")
    for label, p in single["probabilities"].items():
        click.echo(f"  {label:<10} {p:.4f}  {'█' * round(p * 30)}")
    click.echo("\nBatch of 4:")
    for row in result["batch"]:
        click.echo(f"  {row['label']:<9} {row['score']:.4f}  {row['text']}")
    tp = result["throughput"]
    click.echo(f"\nThroughput (batch {tp['batch_size']}, {tp['seconds']} s, {tp['end_to_end']}):")
    click.echo(f"  {tp['samples_per_second']:.1f} samples/s, {tp['ms_per_sample']:.4f} ms/sample")
