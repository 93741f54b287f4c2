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
@click.option("--host", default=None, help="user@host of one device (OpenSSH; host-key checking stays on).")
@click.option("--inventory", "-i", default=None,
              help="Ansible inventory of many devices (hosts.ini): a fleet rollout with ansible-playbook.")
@click.option("--limit", default=None, help="Fleet: only this group or host of the inventory (Ansible pattern).")
@click.option("--serial", default="25%", show_default=True,
              help="Fleet: hosts per batch after the canaries, N or P% of the hosts.")
@click.option("--canary", type=click.IntRange(0, None), default=1, show_default=True,
              help="Fleet: hosts in the first batch, in inventory order (0: none).")
@click.option("--max-fail", "max_fail", default="0%", show_default=True,
              help="Fleet: the rollout stops after a batch in which more than this share of hosts failed.")
@click.option("--forks", type=click.IntRange(1, 500), default=5, show_default=True,
              help="Fleet: hosts Ansible works on at once.")
@click.option("--check", is_flag=True, help="Fleet: report what would change; change nothing.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="SSH port (default: ssh's own).")
@click.option("--ssh-option", "-o", "ssh_options", multiple=True,
              help="Extra ssh option, e.g. -o IdentityFile=~/.ssh/pi (repeatable).")
@click.option("--env", "remote_env", multiple=True, callback=_env_pair,
              help="install.sh setting on the device, e.g. --env EDGEPACK_PORT=8080 (repeatable).")
@json_option
def deploy(package, host, inventory, limit, serial, canary, max_fail, forks, check, port, ssh_options, remote_env,
           as_json):
    """Copy a Raspberry Pi package to a device over SSH (or to a fleet with Ansible), install it, wait until it serves.

    The package is checked against its SHA256SUMS here, streamed over one SSH connection, and
    installed by its own install.sh (checksums again, offline venv, atomic switch, readiness wait).
    A failed install rolls back: the previous version keeps serving.

    \b
    Example:
      edgepack build samples/sentiment --target rpi
      edgepack deploy samples/sentiment/dist/sentiment-1.0.0-linux-aarch64.tar.gz --host pi@raspberrypi.local

    With --inventory: canary host(s) first, then batches (--serial); the rollout stops when more
    than --max-fail of a batch failed; failed hosts keep serving their previous version. Prints a
    Markdown table (--json: one document). Exit 0: every host installed or unchanged; 7: a host
    failed, was unreachable or not reached (the report is printed first); 2: a bad inventory,
    --limit or policy value; 130: interrupted. Needs ansible-core: pip install 'edgepack[fleet]'.

    \b
      edgepack deploy dist/sentiment-1.0.1-linux-aarch64.tar.gz -i hosts.ini --canary 1 --serial 25% --max-fail 10%
      edgepack deploy dist/sentiment-1.0.1-linux-aarch64.tar.gz -i hosts.ini --limit kitchen --check
    """
    if (host is None) == (inventory is None):
        raise click.UsageError("give --host user@host (one device) or --inventory hosts.ini (a fleet), not both")
    if inventory is not None:
        if port or ssh_options or remote_env:
            raise click.UsageError("--port/-o/--env are for --host; with --inventory set ansible_port, "
                                   "ansible_ssh_common_args and edgepack_env in the inventory")
        return _fleet(package, inventory, limit, serial, canary, max_fail, forks, check, as_json)
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


def _fleet(package, inventory, limit, serial, canary, max_fail, forks, check, as_json):
    from edgepack.edge.fleet import FleetFailed, Policy, deploy_fleet, parse_percent, parse_serial

    policy = Policy(serial=parse_serial(serial), canary=canary, max_fail=parse_percent(max_fail), forks=forks,
                    limit=limit, check=check)
    try:
        # Ansible's log goes to stderr even with --json: it is the rollout's record; stdout stays one document
        report = deploy_fleet(package, inventory, policy, progress=Progress(enabled=True))
    except FleetFailed as exc:
        _show(exc.report, as_json)
        click.secho(f"error: {exc}", fg="red", err=True)
        click.get_current_context().exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        if getattr(exc, "report", None) is not None:
            click.echo(exc.report.markdown(), err=True)  # stdout stays one JSON document (the error's)
        raise
    _show(report, as_json)


def _show(report, as_json):
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(report.markdown(), nl=False)
