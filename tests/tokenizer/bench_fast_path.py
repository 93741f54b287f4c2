"""Speed of the runtime's tokenization before and after the ids-only fast path, in the same run.

A benchmark, not a test (pytest does not collect it): results go into toolkit/runtime/tokenizer/SPEC.md.
It measures what the runtime does per request, ``BatchEncoder(texts)``: encode a batch and pad it
into int64 arrays, on the sentiment sample's tokenizer with texts made the way ``edgepack bench``
makes them (16 tokens), and on bert_uncased for a WordPiece data point.

"Before" is the code at ``--baseline`` (a git revision, default the commit before the fast path),
unpacked with ``git archive`` into a temporary folder; "after" is this working tree. Worker
processes for the two take turns (``--rounds``), and each number is the best over rounds and blocks
of CPU time (``time.process_time``), so load from other processes moves the ratios little.
Run:  .venv/bin/python tests/tokenizer/bench_fast_path.py [--baseline REV] [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import pathlib
import platform
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "tokenizer" / "golden"
NAMES = ["input_ids", "attention_mask", "token_type_ids"]
BASELINE = "74960a5"  # main before the fast path
CONFIGS = (("sentiment (WordLevel)", ROOT / "samples" / "sentiment" / "tokenizer.json"),
           ("bert_uncased (WordPiece)", GOLDEN / "bert_uncased.tokenizer.json"))


def per_call_us(fns: dict, rounds: int = 8, block_s: float = 0.05) -> dict:
    """Best mean per call over many short blocks, the functions taking turns block by block: on a
    loaded machine the minimum is the stable number, and taking turns gives every function the same
    conditions, so the ratios hold even when the absolute numbers move."""
    for fn in fns.values():
        for _ in range(20):
            fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for key, fn in fns.items():
            n, t0 = 0, time.process_time()
            while time.process_time() - t0 < block_s:
                for _ in range(5):
                    fn()
                n += 5
            best[key] = min(best[key], (time.process_time() - t0) / n * 1e6)
    return best


def worker() -> None:
    """Measure with whichever edgepack is importable; print one JSON line."""
    import numpy as np

    from edgepack.bench.runner import make_texts
    from edgepack.project import load_project
    from edgepack.runtime.encoder import BatchEncoder, pad_batch
    from edgepack.runtime.tokenizer import Tokenizer

    seeds = load_project(ROOT / "samples" / "sentiment").example_texts or []
    out = {}
    for label, path in CONFIGS:
        enc = BatchEncoder(Tokenizer.from_file(path), NAMES, 64)
        tok = enc.tokenizer
        all_texts = make_texts(tok, 16, 32, seeds)
        for batch in (1, 32):
            texts = all_texts[:batch]
            fns = {"encode": lambda: tok.encode_batch(texts),  # default: the full path, with offsets
                   "encode_pad": lambda: enc(texts)}  # what the runtime calls
            if "offsets" in inspect.signature(tok.encode_batch).parameters:
                fns["encode_ids_only"] = lambda: tok.encode_batch(texts, offsets=False)
            us = per_call_us(fns)
            full = pad_batch(tok.encode_batch(texts), enc.pad_id, NAMES)  # the full path, padded
            arrays = enc(texts)
            same = all(np.array_equal(arrays[n], full[n]) for n in NAMES)
            out[f"{label}|{batch}"] = {**us, "ids": arrays["input_ids"].tolist(), "same_as_full_path": same}
    print(json.dumps(out))


def run_worker(pythonpath: str | None) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run([sys.executable, __file__, "--worker"], env=env, capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(res.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", action="store_true")
    args = ap.parse_args()
    if args.worker:
        return worker()
    with tempfile.TemporaryDirectory(prefix="edgepack-baseline-") as tmp:
        archive = subprocess.run(["git", "archive", args.baseline, "toolkit"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(tmp)
        pkg = pathlib.Path(tmp, "pkg")
        pkg.mkdir()
        (pkg / "edgepack").symlink_to(pathlib.Path(tmp, "toolkit"))  # setuptools maps toolkit/ to edgepack
        runs = {"before": [], "after": []}
        for _ in range(args.rounds):
            runs["before"].append(run_worker(str(pkg)))
            runs["after"].append(run_worker(None))
    rows = []
    for key in runs["after"][0]:
        best = {side: {m: min(r[key][m] for r in runs[side]) for m in runs[side][0][key] if m.startswith("encode")}
                for side in runs}
        label, batch = key.split("|")
        rows.append({"tokenizer": label, "batch": int(batch), "before": best["before"], "after": best["after"],
                     "speedup": best["before"]["encode_pad"] / best["after"]["encode_pad"],
                     "same_ids": all(r[key]["ids"] == runs["before"][0][key]["ids"] for r in runs["after"]),
                     "same_as_full_path": all(r[key]["same_as_full_path"] for r in runs["after"])})
    if args.json:
        print(json.dumps({"python": platform.python_version(), "baseline": args.baseline, "rows": rows}, indent=1))
        return
    print(f"Python {platform.python_version()}, before = {args.baseline}, after = working tree, {args.rounds} rounds")
    print("| tokenizer | batch | BatchEncoder before (µs) | BatchEncoder after (µs) | speed-up "
          "| encode_batch() before (µs) | encode_batch() after (µs) | encode_batch(offsets=False) (µs) | same ids |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        b, a = r["before"], r["after"]
        print(f"| {r['tokenizer']} | {r['batch']} | {b['encode_pad']:.1f} | {a['encode_pad']:.1f} | "
              f"{r['speedup']:.1f}x | {b['encode']:.1f} | {a['encode']:.1f} | {a.get('encode_ids_only', 0):.1f} | "
              f"{'yes' if r['same_ids'] and r['same_as_full_path'] else 'NO'} |")


if __name__ == "__main__":
    main()
