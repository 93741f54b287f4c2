"""Fuzz suite: ~2,000 mutated projects through `edgepack export --json`, seeded.

For every case: the exit code is documented, no traceback, stdout is exactly one JSON document,
and a failed case leaves the previous build/ byte-identical. Special files (FIFO, /dev/zero,
sockets, symlinks out, `..`, names too long) must be refused with exit 2 naming the key, within a
deadline (a FIFO must not hang). `pytest -s tests/fuzz` prints a summary per kind.

Reproduce: EDGEPACK_FUZZ_SEED (default below) and EDGEPACK_FUZZ_SCALE (a multiplier on the case
counts) select the cases; a failing case's project is kept under pytest's tmp dir and named in
the failure message.
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.fuzz import base, runner
from tests.fuzz.cases import GENERATORS, special_cases

SEED = int(os.environ.get("EDGEPACK_FUZZ_SEED", "20261201"))
SCALE = float(os.environ.get("EDGEPACK_FUZZ_SCALE", "1"))
COUNTS = {"toml": 550, "tokenizer": 550, "safetensors": 300, "pt": 260, "onnx": 300}  # + ~115 special files
KEEP_FAILURES = 3  # per kind: projects kept for reproduction


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, Path]:
    """One exported tiny project per model source; each case starts from a copy, build/ included."""
    # Exported here, in this process: every lazy import of an export (torch.onnx, onnxruntime, the
    # checker) then happens once, and each forked case starts in milliseconds instead of seconds.
    import edgepack.cli.export_cmd  # noqa: F401 (click loads it lazily, in every case otherwise)
    from edgepack.export import export_project

    root = tmp_path_factory.mktemp("fuzz-seeds")
    out = {}
    for source in ("safetensors", "pt", "onnx"):
        project = base.write_project(root / source, source)
        export_project(project)
        assert (project / "build" / "manifest.json").is_file()
        out[source] = project
    return out


def _run_cases(kind: str, cases, seeds: dict[str, Path], tmp: Path) -> None:
    failures, codes, kept = [], collections.Counter(), 0
    started, slowest = time.monotonic(), (0.0, "")
    for index, case in enumerate(cases):
        case_root = tmp / f"{kind}-{index}"
        project, outside = case_root / "p", case_root / "outside"
        shutil.copytree(seeds[case.source], project, symlinks=True)
        outside.mkdir()
        case.apply(project, outside)
        before = runner.tree_hash(project / "build")
        outcome = runner.run_case(["export", str(project), "--json"], project, timeout=case.timeout or runner.CASE_TIMEOUT_S)
        after = runner.tree_hash(project / "build")
        problems = runner.check(outcome, before, after)
        if case.expect_code is not None and outcome.code != case.expect_code:
            problems.append(f"expected exit {case.expect_code}, got {outcome.code}")
        if case.mentions and case.mentions not in outcome.stdout:
            problems.append(f"the error does not name {case.mentions!r}")
        codes["hang" if outcome.code is None else outcome.code] += 1
        if outcome.seconds > slowest[0]:
            slowest = (outcome.seconds, case.label)
        if problems:
            keep = kept < KEEP_FAILURES
            kept += keep
            failures.append(f"{kind}[{index}] {case.label} ({case.source}): {'; '.join(problems)} | "
                            f"{runner.first_line(outcome)}" + (f" | kept: {project}" if keep else ""))
        if not problems or kept > KEEP_FAILURES or not keep:
            shutil.rmtree(case_root, ignore_errors=True)
    elapsed = time.monotonic() - started
    summary = (f"fuzz {kind}: {len(cases)} cases in {elapsed:.0f} s (seed {SEED}), exit codes "
               f"{dict(sorted(codes.items(), key=str))}, slowest {slowest[0]:.1f} s ({slowest[1]}), "
               f"{len(failures)} failing")
    print("\n" + summary, file=sys.stderr)
    for line in failures[:40]:
        print("  ✗ " + line, file=sys.stderr)
    assert not failures, summary + "\n" + "\n".join(failures[:40])


@pytest.mark.parametrize("kind", list(GENERATORS))
def test_fuzz(kind, seeds, tmp_path):
    rng = random.Random(f"{SEED}/{kind}")
    cases = [GENERATORS[kind](rng) for _ in range(max(1, round(COUNTS[kind] * SCALE)))]
    _run_cases(kind, cases, seeds, tmp_path)


def test_special_files(seeds, tmp_path):
    _run_cases("special", special_cases(), seeds, tmp_path)
