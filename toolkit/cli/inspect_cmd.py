from __future__ import annotations

import click

from edgepack.cli import emit_json, json_option


@click.command()
@click.argument("artifact", type=click.Path(exists=True))
@click.option("--verify/--no-verify", default=True, show_default=True, help="Check sha256 of every file.")
@json_option
def inspect(artifact, verify, as_json):
    """Show an artifact's manifest, integrity, its models' op types and sizes.

    ARTIFACT is a build directory, a web bundle (directory or .zip), a Raspberry Pi package
    (its .tar.gz, or the unpacked directory: also its wheelhouse and total size), or a .onnx
    file. Archives are read in place, never unpacked; one with a member that is not a regular
    file or directory inside it (symlink, hard link, device, '..') or a duplicate is refused
    (exit 5).

    \b
    Example:
      edgepack inspect samples/sentiment/build
      edgepack inspect samples/sentiment/dist/sentiment-1.0.0-linux-aarch64.tar.gz
      edgepack inspect samples/sentiment/build/model.fp32.onnx --json
    """
    from edgepack.inspection import format_report, inspect_artifact

    report = inspect_artifact(artifact, verify=verify)
    if as_json:
        emit_json(report)
    else:
        click.echo(format_report(report))
