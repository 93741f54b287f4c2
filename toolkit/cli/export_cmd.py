from __future__ import annotations

import click

from edgepack.cli import emit_json, json_option
from edgepack.progress import Progress


@click.command()
@click.argument("project", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--out", type=click.Path(), default=None, help="Build directory (default: PROJECT/build).")
@json_option
def export(project, out, as_json):
    """Export PROJECT's model to ONNX and prove it gives PyTorch's answers.

    Writes model.fp32.onnx, tokenizer.json and manifest.json (checksums, golden vectors) into the
    build directory atomically: a failed export leaves the previous build untouched. Quantized
    models already there are kept when the new fp32 model is byte-identical, and removed (said on
    stderr, listed under "removed" with --json) when it changed: `edgepack quantize` makes them again.

    \b
    Example:
      edgepack export samples/sentiment
      edgepack export samples/sentiment --json | jq .parity
    """
    from edgepack.export import export_project

    result = export_project(project, out=out, progress=Progress(enabled=True))
    if as_json:
        emit_json(result.as_dict())
        return
    parity = result.manifest["parity"]["fp32"]
    if parity.get("skipped"):
        click.echo(f"parity: skipped ({parity['skipped']})")
    else:
        click.echo(f"✓ parity PyTorch vs ONNX Runtime fp32 over {parity['cases']} batches (tolerance {parity['tolerance']:.0e})")
    click.echo(f"wrote {result.build_dir} ({len(result.manifest['files'])} files + manifest.json)")
    if result.kept:
        click.echo(f"kept {', '.join(result.kept)} (the fp32 model is unchanged)")
