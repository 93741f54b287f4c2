"""The tokenizer golden files on aarch64: the Python tokenizer the Pi package ships, run by Debian
bookworm's python3.11 under qemu-aarch64 (-cpu cortex-a72), reproduces Hugging Face's output."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.repo_support import REPO
from tests.tokenizer import conformance
from tests.tokenizer.golden_support import CORPUS, GOLDEN, golden_names, load_golden

pytestmark = [pytest.mark.aarch64, pytest.mark.slow]

# Every case of every golden file would take minutes emulated; a fixed stride keeps every file and
# every kind of case (single, pair, batch, no special tokens, errors) in play.
STRIDE = 3


def test_golden_files_on_aarch64(arm64_python, tmp_path):
    # Only what the Pi package ships of edgepack: the package root and the runtime (stdlib here).
    site = tmp_path / "site" / "edgepack"
    site.mkdir(parents=True)
    for name in ("__init__.py", "errors.py"):
        shutil.copy(REPO / "toolkit" / name, site / name)
    shutil.copytree(REPO / "toolkit" / "runtime", site / "runtime", ignore=shutil.ignore_patterns("__pycache__"))
    # The one golden runner, by file path: stdlib only, it imports edgepack from the copied site.
    script = shutil.copy(conformance.__file__, tmp_path / "conformance.py")
    names = golden_names()
    proc = arm64_python.run([str(script), str(GOLDEN), str(CORPUS), "--names", ",".join(names), "--stride", str(STRIDE)],
                            env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}, timeout=900)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["machine"] == "aarch64"
    assert set(report["reports"]) == set(names)
    assert sum(r["checked"] for r in report["reports"].values()) >= 9 * 500
    assert sum("error" in c for n in names for c in load_golden(n)[1][::STRIDE]) > 0  # error cases in play
    failed = [conformance.describe(n, r) for n, r in report["reports"].items() if r["failure_count"]]
    assert not failed, "\n".join(failed)
    assert proc.returncode == 0, proc.stderr[-3000:]
