"""The device CLI (``bin/<name>`` in a package): predict / embed from the shell, run the self-test.

    <name> predict "some text" ["more text" ...]     text-classification models
    <name> embed "some text" ["more text" ...]       feature-extraction models (one vector per line)
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
    e = sub.add_parser("embed", help="print one JSON line per text: its embedding and dimension")
    e.add_argument("texts", nargs="+")
    sub.add_parser("self-test", help="check the model against its golden vectors (exit 1 if not)")
    args = parser.parse_args(argv)

    from edgepack.errors import EdgepackError, TargetError
    from edgepack.runtime.pipeline import Pipeline

    try:
        pipeline = Pipeline.load(args.artifact, precision=args.precision)
        if args.command == "self-test":
            report = pipeline.self_test().as_dict()
            print(json.dumps(report, indent=2))
            return 0 if report["ok"] else 1
        # Same rule as the service: each task has its command, the other one says which to use.
        wanted = "embed" if pipeline.task == "feature-extraction" else "predict"
        if args.command != wanted:
            raise TargetError(f"{args.artifact}: this model's task is {pipeline.task}; use `{parser.prog} {wanted} TEXT`")
        for text, result in zip(args.texts, pipeline.predict(args.texts)):
            if wanted == "embed":
                result = {"dim": len(result["embedding"]), **result}
            print(json.dumps(dict(result, text=text), ensure_ascii=False))
        return 0
    except EdgepackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
