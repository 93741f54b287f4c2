"""The one golden-file runner for the Python tokenizer: pytest, aarch64 emulation and Pyodide use it.

Standard library only, and no edgepack import at module level, so it runs wherever the runtime is
installed (a qemu-aarch64 python3.11, the Pyodide page) by file path alone. Its twin for JS is
web/test/conformance.mjs; both apply the same rule:

- an output case passes when every encoding equals the reference's (ids, masks, type ids, special
  tokens mask, tokens, code-point offsets);
- an error case passes only when the tokenizer raises the runtime's documented error class
  (TokenizerSpecError) with a message of the kind the golden file records. A crash (TypeError, ...)
  or a different refusal fails: "any exception" is not the expected error.

Command line (what the aarch64 test runs under emulation):
    python conformance.py GOLDEN_DIR CORPUS [--names a,b] [--stride N] [--fast]
prints one JSON line: {"machine": ..., "reports": {name: report}}.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

FIELDS = ("ids", "attention_mask", "token_type_ids", "special_tokens_mask", "tokens", "offsets")
MAX_EXAMPLES = 3

# Error kinds the golden files record (scripts/make_golden.py REFERENCE_ERRORS) -> how edgepack's
# runtimes word that refusal. Same table in web/test/conformance.mjs.
IMPLEMENTATION_ERRORS = {"truncation": re.compile(r"^truncation[ .:]")}


def parse_corpus(text: str) -> list[str]:
    return [json.loads(line) for line in text.splitlines() if line]


def parse_golden(text: str) -> tuple[dict, list[dict]]:
    lines = [line for line in text.splitlines() if line]
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def golden_names(golden_dir: Path) -> list[str]:
    return sorted(p.name[: -len(".jsonl")] for p in Path(golden_dir).glob("*.jsonl"))


def default_error_class():
    from edgepack.errors import TokenizerSpecError

    return TokenizerSpecError


def outcome(tok, corpus: list[str], case: dict, *, fast: bool = False) -> dict:
    """{"outputs": [...]} or {"raised": exception}: what the tokenizer did with one case."""
    inputs = [(corpus[i], corpus[j] if j is not None else None) for i, j in case["inputs"]]
    extra = {"offsets": False} if fast else {}
    try:
        if case["batch"]:
            items = [t if p is None else (t, p) for t, p in inputs]
            encs = tok.encode_batch(items, add_special_tokens=case["add_special_tokens"], **extra)
        else:
            (t, p), = inputs
            encs = [tok.encode(t, p, add_special_tokens=case["add_special_tokens"], **extra)]
        return {"outputs": [e.to_dict() for e in encs]}
    except Exception as exc:  # judged by verdict(): only the expected refusal passes
        return {"raised": exc}


def verdict(case: dict, got: dict, error_class, *, fast: bool = False) -> str | None:
    """None when ``got`` is what the golden case expects, else why not."""
    raised = got.get("raised")
    shown = f"{type(raised).__name__}: {raised}" if raised is not None else None
    if "error" in case:
        kind = case["error"]["kind"]
        if raised is None:
            return f"expected a {kind} error, got outputs"
        if not isinstance(raised, error_class):
            return f"expected {error_class.__name__} ({kind}), got {shown}"
        pattern = IMPLEMENTATION_ERRORS.get(kind)
        if pattern is None:
            return f"golden error kind {kind!r} is unknown to this runner; add it to IMPLEMENTATION_ERRORS"
        return None if pattern.match(str(raised)) else f"expected a {kind} error, got {shown}"
    if raised is not None:
        return f"expected outputs, got {shown}"
    # The ids-only fast path (offsets=False) must leave offsets out, not guess them.
    want = [{**o, "offsets": None} if fast else o for o in case["outputs"]]
    if got["outputs"] == want:
        return None
    for n, (w, g) in enumerate(zip(want, got["outputs"])):
        for k in sorted(set(w) | set(g)):
            if w.get(k) != g.get(k):
                return f"encoding {n} {k}: want {w.get(k)!r:.300} got {g.get(k)!r:.300}"
    return f"want {len(want)} encodings, got {len(got['outputs'])}"


def check(tok, corpus: list[str], cases: list[dict], *, stride: int = 1, fast: bool = False,
          error_class=None) -> dict:
    """Run every ``stride``-th case: {"checked", "failure_count", "failures": first few}."""
    error_class = error_class or default_error_class()
    report = {"checked": 0, "failure_count": 0, "failures": []}
    for k in range(0, len(cases), stride):
        case = cases[k]
        why = verdict(case, outcome(tok, corpus, case, fast=fast), error_class, fast=fast)
        report["checked"] += 1
        if why is not None:
            report["failure_count"] += 1
            if len(report["failures"]) < MAX_EXAMPLES:
                report["failures"].append({"case": k, "inputs": case["inputs"], "why": why})
    return report


def check_file(golden_dir: Path, name: str, corpus: list[str], *, tokenizer_class=None, **options) -> dict:
    if tokenizer_class is None:
        from edgepack.runtime.tokenizer import Tokenizer as tokenizer_class
    golden_dir = Path(golden_dir)
    header, cases = parse_golden((golden_dir / f"{name}.jsonl").read_text(encoding="ascii"))
    tok = tokenizer_class.from_file(golden_dir / header["tokenizer"])
    return {"cases": len(cases), **check(tok, corpus, cases, **options)}


def describe(name: str, report: dict) -> str:
    lines = [f"{name}: {report['failure_count']}/{report['checked']} cases differ"]
    lines += [f"  case {f['case']} inputs={f['inputs']}: {f['why']}" for f in report["failures"]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import argparse
    import platform

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("golden_dir", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--names", help="comma-separated golden file names (default: all)")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--fast", action="store_true", help="the ids-only fast path (offsets=False)")
    args = parser.parse_args(argv)
    known = golden_names(args.golden_dir)
    names = args.names.split(",") if args.names else known
    problems = []
    if not names or set(names) - set(known):
        problems.append(f"golden files {sorted(set(names) - set(known)) or names} not in {args.golden_dir} "
                        f"(there: {', '.join(known) or 'none'})")
    if args.stride < 1:
        problems.append("--stride must be >= 1")
    if not args.corpus.is_file():
        problems.append(f"corpus {args.corpus} is not a file")
    if problems:
        parser.error("; ".join(problems))
    corpus = parse_corpus(args.corpus.read_text(encoding="ascii"))
    reports = {n: check_file(args.golden_dir, n, corpus, stride=args.stride, fast=args.fast) for n in names}
    print(json.dumps({"machine": platform.machine(), "reports": reports}))
    return 0 if all(r["failure_count"] == 0 for r in reports.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
