"""The golden self-test rule (edgepack.runtime.selftest), shared by Pipeline and the Pyodide page.

Each way a runtime can disagree with its manifest is forced, never waited for: wrong token ids, an
output off by more than the tolerance, a NaN, a row of the wrong length, a missing output, and a
manifest with nothing to check.
"""

from __future__ import annotations

import copy
import math

import pytest

from edgepack.runtime import selftest
from edgepack.runtime.manifest import Manifest, load_manifest
from edgepack.runtime.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipe(classifier):
    return Pipeline.load(classifier)


def _with_golden(manifest, edit) -> Manifest:
    data = copy.deepcopy(manifest.data)
    edit(data["golden"])
    return Manifest(data, root=manifest.root)


def _run_all(pipe, manifest, outputs_for=None):
    """The loop both runtimes write: start, run each case, compare."""
    report, cases = selftest.start(manifest, pipe.precision, pipe.tokenizer)
    for case in cases:
        got = pipe.run(pipe.encoder.pad([case.encoding]))
        rows = {name: r[0] for name, r in got.items()}
        selftest.compare(report, case, outputs_for(rows) if outputs_for else rows)
    return report


def test_the_pipeline_passes_its_own_golden_vectors(pipe):
    report = pipe.self_test()
    assert report.ok and report.checked == len(pipe.manifest.golden) > 0
    assert 0.0 <= report.max_abs_diff <= report.tolerance
    assert report.as_dict() == _run_all(pipe, pipe.manifest).as_dict()


def test_lists_and_arrays_compare_alike(pipe):
    as_lists = _run_all(pipe, pipe.manifest, lambda rows: {n: v.tolist() for n, v in rows.items()})
    assert as_lists.as_dict() == pipe.self_test().as_dict()  # the Pyodide page passes lists


def test_wrong_token_ids_fail_without_running_the_model(pipe):
    manifest = _with_golden(pipe.manifest, lambda g: g[0].update(input_ids=[1, 2, 3]))
    report, cases = selftest.start(manifest, pipe.precision, pipe.tokenizer)
    assert report.failures == ["golden[0]: token ids differ from the manifest"]
    assert [c.index for c in cases] == list(range(1, len(manifest.golden)))


def test_an_output_beyond_the_tolerance_fails(pipe):
    def nudge(golden):
        row = golden[1]["outputs"][pipe.precision]["probabilities"]
        row[0] += 0.01

    report = _run_all(pipe, _with_golden(pipe.manifest, nudge))
    assert not report.ok and len(report.failures) == 1
    assert report.failures[0].startswith("golden[1] probabilities: max |Δ| 0.01")
    assert report.max_abs_diff == pytest.approx(0.01, abs=1e-4)


@pytest.mark.parametrize("damage,expect", [
    (lambda v: [math.nan] + list(v[1:]), "inf"),
    (lambda v: list(v[:-1]), "inf"),
])
def test_nan_or_wrong_length_is_never_a_pass(pipe, damage, expect):
    report = _run_all(pipe, pipe.manifest, lambda rows: {n: damage(v.tolist()) for n, v in rows.items()})
    assert not report.ok and report.max_abs_diff == math.inf
    assert all(f"max |Δ| {expect}" in f for f in report.failures) and len(report.failures) == report.checked


def test_a_missing_output_is_named(pipe):
    report = _run_all(pipe, pipe.manifest, lambda rows: {})
    assert not report.ok and "the model has no output 'probabilities'" in report.failures[0]


def test_nothing_to_check_is_a_failure(classifier):
    manifest = load_manifest(classifier)
    report, cases = selftest.start(manifest, "int8", None)  # no golden outputs for int8 in this artifact
    assert cases == [] and report.checked == 0 and not report.ok
    assert report.failures == ["the manifest has no golden outputs for precision int8"]
