from __future__ import annotations

import click

from edgepack.cli import emit_json, json_option
from edgepack.progress import Progress


def _env_pair(_ctx, _param, values):
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("EDGEPACK_"):
            raise click.BadParameter(f"{item!r}: expected EDGEPACK_NAME=value (settings of the package's install.sh)")
        out[key] = value
    return out


@click.command()
@click.argument("package", type=click.Path())
@click.option("--host", required=True, help="user@host of the device (OpenSSH; host-key checking stays on).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="SSH port (default: ssh's own).")
@click.option("--ssh-option", "-o", "ssh_options", multiple=True,
              help="Extra ssh option, e.g. -o IdentityFile=~/.ssh/pi (repeatable).")
@click.option("--env", "remote_env", multiple=True, callback=_env_pair,
              help="install.sh setting on the device, e.g. --env EDGEPACK_PORT=8080 (repeatable).")
@json_option
def deploy(package, host, port, ssh_options, remote_env, as_json):
    """Copy a Raspberry Pi package to a device over SSH, install it, wait until it serves.

    The package is checked against its SHA256SUMS here, streamed over one SSH connection, and
    installed by its own install.sh (checksums again, offline venv, atomic switch, readiness wait).
    A failed install rolls back: the previous version keeps serving.

    \b
    Example:
      edgepack build samples/sentiment --target rpi
      edgepack deploy samples/sentiment/dist/sentiment-1.0.0-linux-aarch64.tar.gz --host pi@raspberrypi.local
    """
    from edgepack.edge.deploy import deploy as run_deploy

    opts = []
    for o in ssh_options:
        opts += ["-o", o]
    result = run_deploy(package, host, port=port, ssh_options=opts, remote_env=remote_env,
                        progress=Progress(enabled=not as_json))
    if as_json:
        emit_json({"ok": True, "host": result.host, "package": result.package, "version_dir": result.top,
                   "seconds": round(result.seconds, 1), "output": result.output})
        return
    click.echo(f"deployed {result.top} to {result.host} in {result.seconds:.1f}s; the service is ready")
