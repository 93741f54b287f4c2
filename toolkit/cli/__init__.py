"""The ``edgepack`` command line: thin over library functions.

Conventions (every command): ``--help`` shows an example; results go to stdout (``--json`` for
machines), progress to stderr; user errors print one clear message, no traceback, and exit with
the error's code (see EXIT_CODES, documented in the README).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import signal
import sys
import threading

import click

from edgepack import __version__
from edgepack.atomic import Interrupted
from edgepack.errors import EdgepackError

# command -> "module:function". Commands load lazily so `edgepack --help` stays fast and a
# command's heavy imports (torch, playwright) happen only when it runs.
COMMANDS = {
    "init": "edgepack.cli.init_cmd:init",
    "export": "edgepack.cli.export_cmd:export",
    "build": "edgepack.cli.build_cmd:build",
    "inspect": "edgepack.cli.inspect_cmd:inspect",
    "demo": "edgepack.cli.demo_cmd:demo",
    "tokenize": "edgepack.cli.tokenize_cmd:tokenize",
    "quantize": "edgepack.cli.quantize_cmd:quantize",
    "bench": "edgepack.cli.bench_cmd:bench",
    "serve": "edgepack.cli.serve_cmd:serve",
    "deploy": "edgepack.cli.deploy_cmd:deploy",
}

EXIT_CODES = {
    0: "success",
    1: "error (generic)",
    2: "invalid project, configuration, tokenizer spec or usage",
    3: "export failed",
    4: "parity check failed (a runtime does not give the reference's answers)",
    5: "artifact missing, tampered with or of an unknown format",
    6: "quantization produced nothing or failed its accuracy gate",
    7: "target cannot be built here (e.g. unsupported platform, no GPU)",
    8: "output location not writable",
    9: "deploy: a device failed, was unreachable or was not attempted; it keeps its previous version",
    130: "interrupted by SIGINT (Ctrl-C); the previous artifacts are kept",
    143: "interrupted by SIGTERM; the previous artifacts are kept",
}


def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def _interrupts_raise():
    """SIGINT and SIGTERM raise :class:`Interrupted` (a KeyboardInterrupt): ``finally`` blocks and the
    atomic rollback run, then the handler below reports it. SIGTERM's default would kill the process
    on the spot, leaving temporary directories behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class EdgepackGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in COMMANDS if self.get_command(ctx, name) is not None]

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # the command's module is not part of this installation
                return None
            raise

    def invoke(self, ctx):
        try:
            with _interrupts_raise():
                return super().invoke(ctx)
        except EdgepackError as exc:
            self._fail(ctx, type(exc).__name__, str(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            exc = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
            self._fail(ctx, "Interrupted", exc.message, exc.exit_code)

    @staticmethod
    def _fail(ctx, kind: str, message: str, code: int):
        if ctx.meta.get("edgepack.json"):
            click.echo(json.dumps({"ok": False, "error": {"type": kind, "message": message, "exit_code": code}}))
        click.secho(f"error: {message}", fg="red", err=True)
        ctx.exit(code)


def json_option(f):
    """--json: print one JSON document on stdout instead of the human report."""

    def callback(ctx, _param, value):
        ctx.meta["edgepack.json"] = value
        return value

    return click.option("--json", "as_json", is_flag=True, callback=callback, expose_value=True,
                        help="Print a machine-readable JSON result on stdout.")(f)


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(cls=EdgepackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgepack")
def cli():
    """edgepack: ship PyTorch text models to ONNX, the browser and the Raspberry Pi -- with proof.

    \b
    Typical flow:
      edgepack export samples/sentiment          # ONNX + parity vs PyTorch
      edgepack quantize samples/sentiment        # INT8 behind an accuracy gate
      edgepack build samples/sentiment --target wasm
      edgepack build samples/sentiment --target rpi

    \b
    Exit codes: 0 ok, 1 error, 2 bad project/config/usage, 3 export failed, 4 parity failed,
    5 bad artifact, 6 quantization gate failed, 7 target unavailable, 8 output not writable,
    130 interrupted (Ctrl-C), 143 terminated (SIGTERM): previous artifacts kept.
    """


def main(argv=None):
    cli.main(args=argv, prog_name="edgepack")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
