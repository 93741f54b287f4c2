from __future__ import annotations

import click

from edgepack.cli import emit_json, json_option


@click.command()
@click.argument("artifact", type=click.Path(exists=True))
@click.option("--verify/--no-verify", default=True, show_default=True, help="Check sha256 of every file.")
@json_option
def inspect(artifact, verify, as_json):
    """Show an artifact's manifest, its models' op types and sizes.

    ARTIFACT is a build directory, a web bundle, an unpacked Pi package, or a .onnx file.

    \b
    Example:
      edgepack inspect samples/sentiment/build
      edgepack inspect samples/sentiment/build/model.fp32.onnx --json
    """
    from edgepack.inspect import format_report, inspect_artifact

    report = inspect_artifact(artifact, verify=verify)
    if as_json:
        emit_json(report)
    else:
        click.echo(format_report(report))
