from __future__ import annotations

import click

from edgepack.build import TARGETS
from edgepack.cli import emit_json, json_option
from edgepack.progress import Progress


@click.command()
@click.argument("project", type=click.Path())
@click.option("--target", "-t", type=click.Choice(list(TARGETS)), default="onnx", show_default=True,
              help="What to build: the verified ONNX build directory, a browser bundle, a Pi package, a Pyodide page.")
@click.option("--out", type=click.Path(), default=None, help="Output directory for the target (default: PROJECT/dist).")
@click.option("--force", is_flag=True, help="Re-run every stage even if its inputs did not change.")
@click.option("--python", "pythons", multiple=True, help="rpi: a device Python for the wheelhouse, repeatable: 3.13 (Raspberry Pi OS Trixie, the default) or 3.11 (Bookworm); 'all' for both.")
@click.option("--precision", default=None, help="Override the precision the gates choose for this target (fp32, int8).")
@json_option
def build(project, target, out, force, pythons, precision, as_json):
    """Build PROJECT for a target, running only the stages whose inputs changed.

    \b
    Example:
      edgepack build samples/sentiment                 # export (+ quantize if configured)
      edgepack build samples/sentiment --target wasm   # dist/sentiment-wasm/ + .zip
      edgepack build samples/sentiment --target rpi    # dist/sentiment-1.0.0-linux-aarch64.tar.gz
    """
    from edgepack.build import build as run_build

    options = {}
    if pythons:
        options["pythons"] = list(pythons)
    if precision:
        options["precision"] = precision
    result = run_build(project, target=target, out=out, force=force, progress=Progress(enabled=True), **options)
    if as_json:
        emit_json(result.as_dict())
        return
    for stage, state in result.stages.items():
        click.echo(f"{stage:>9}: {state}")
    for key, value in result.artifact.items():
        click.echo(f"{key:>9}: {value}")
