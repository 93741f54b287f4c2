"""The device CLI (``bin/<name>`` in a package): predict from the shell, run the self-test.

    <name> predict "some text" ["more text" ...]
    <name> self-test

Standard library + the runtime: it runs in the package's venv on the Pi.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=os.environ.get("EDGEPACK_PROG", "edgepack-device"))
    parser.add_argument("--artifact", required=True, help="the installed model directory")
    parser.add_argument("--precision", default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="print one JSON result per text")
    p.add_argument("texts", nargs="+")
    sub.add_parser("self-test", help="check the model against its golden vectors (exit 1 if not)")
    args = parser.parse_args(argv)

    from edgepack.errors import EdgepackError
    from edgepack.runtime.pipeline import Pipeline

    try:
        pipeline = Pipeline.load(args.artifact, precision=args.precision)
        if args.command == "self-test":
            report = pipeline.self_test().as_dict()
            print(json.dumps(report, indent=2))
            return 0 if report["ok"] else 1
        for text, result in zip(args.texts, pipeline.predict(args.texts)):
            print(json.dumps(dict(result, text=text), ensure_ascii=False))
        return 0
    except EdgepackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
