"""The tokenizer golden files on aarch64: the Python tokenizer the Pi package ships, run by Debian
bookworm's python3.11 under qemu-aarch64 (-cpu cortex-a72), reproduces Hugging Face's output."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

from tests.conftest import REPO
from tests.tokenizer.conftest import CORPUS, GOLDEN, golden_names

pytestmark = [pytest.mark.aarch64, pytest.mark.slow]

# Every case of every golden file would take minutes emulated; a fixed stride keeps every file and
# every kind of case (single, pair, batch, no special tokens, errors) in play.
STRIDE = 3

SCRIPT = textwrap.dedent(
    """
    import json, platform, sys
    from edgepack.errors import TokenizerSpecError
    from edgepack.runtime.tokenizer import Tokenizer

    golden, corpus_path, names, stride = sys.argv[1], sys.argv[2], sys.argv[3].split(","), int(sys.argv[4])
    corpus = [json.loads(l) for l in open(corpus_path, encoding="ascii").read().splitlines()]
    report = {"machine": platform.machine(), "checked": 0, "mismatches": []}
    for name in names:
        lines = open(f"{golden}/{name}.jsonl", encoding="ascii").read().splitlines()
        header, cases = json.loads(lines[0]), [json.loads(l) for l in lines[1:]]
        tok = Tokenizer.from_file(f"{golden}/{header['tokenizer']}")
        for k in range(0, len(cases), stride):
            case = cases[k]
            inputs = [(corpus[i], corpus[j] if j is not None else None) for i, j in case["inputs"]]
            try:
                if case["batch"]:
                    encs = tok.encode_batch([t if p is None else (t, p) for t, p in inputs],
                                            add_special_tokens=case["add_special_tokens"])
                else:
                    (t, p), = inputs
                    encs = [tok.encode(t, p, add_special_tokens=case["add_special_tokens"])]
                got = {"outputs": [e.to_dict() for e in encs]}
            except TokenizerSpecError:
                got = {"error": True}
            want = {"error": True} if "error" in case else {"outputs": case["outputs"]}
            report["checked"] += 1
            if got != want:
                report["mismatches"].append([name, k])
    print(json.dumps(report))
    """
)


def test_golden_files_on_aarch64(arm64_python, tmp_path):
    # Only what the Pi package ships of edgepack: the package root and the runtime (stdlib here).
    site = tmp_path / "site" / "edgepack"
    site.mkdir(parents=True)
    for name in ("__init__.py", "errors.py"):
        shutil.copy(REPO / "toolkit" / name, site / name)
    shutil.copytree(REPO / "toolkit" / "runtime", site / "runtime", ignore=shutil.ignore_patterns("__pycache__"))
    script = tmp_path / "golden_on_device.py"
    script.write_text(SCRIPT)
    names = golden_names()
    proc = arm64_python.run([str(script), str(GOLDEN), str(CORPUS), ",".join(names), str(STRIDE)],
                            env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["machine"] == "aarch64"
    assert report["checked"] >= 9 * 500
    assert report["mismatches"] == [], report["mismatches"][:10]
