"""The Pyodide bundle and the runtime wheel, checked without a browser."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgepack.errors import ArtifactError, OutputError, TargetError
from edgepack.runtime.hashing import sha256_file
from edgepack.runtime_wheel import runtime_wheel
from edgepack.web import pyodide as target
from edgepack.web import pyodide_core as core_mod
from edgepack.web import pyodide_wheel

TEST_FILES = "_test"


def _bundle_files(bundle: Path) -> set[str]:
    return {p.relative_to(bundle).as_posix() for p in bundle.rglob("*")
            if p.is_file() and not p.relative_to(bundle).as_posix().startswith(TEST_FILES + "/")}


def test_layout_and_checksums(pyodide_bundle):
    manifest = json.loads((pyodide_bundle / "manifest.json").read_text(encoding="utf-8"))
    files = _bundle_files(pyodide_bundle)
    listed = set(manifest["files"])
    assert listed == files - {"manifest.json"}, "manifest must list every file of the bundle but itself"
    for rel, meta in manifest["files"].items():
        assert sha256_file(pyodide_bundle / rel) == meta["sha256"], rel
        assert (pyodide_bundle / rel).stat().st_size == meta["bytes"], rel
    plain = {f for f in files if not f.endswith((".br", ".gz"))}
    core = {f for f in plain if f.startswith("pyodide/")}
    # Only the core: no Pyodide packages, no console pages, no source maps, no type declarations.
    assert core == {f"pyodide/{n}" for n in core_mod.core_file_names(manifest["tools"]["pyodide"])}
    assert {"index.html", "app.mjs", "browser_pipeline.py", "tokenizer.json", "model.fp32.onnx",
            "edgepack/session.mjs", "edgepack/integrity.mjs", "ort/ort.wasm.min.mjs"} <= plain
    assert not [f for f in plain if f.endswith((".map", ".d.ts", ".html")) and f != "index.html"]
    info = manifest["targets"]["pyodide"]
    assert info["precision"] == manifest["default_precision"] == "fp32"
    assert list(manifest["precisions"]) == ["fp32"]
    assert info["wheel"] in plain and info["wheel"].endswith("-py3-none-any.whl")
    # The one runtime wheel, byte for byte: what the Pi package installs is what the page unpacks.
    assert info["wheel_builder"]["builder"] == "edgepack.runtime_wheel"
    assert sha256_file(pyodide_bundle / info["wheel"]) == info["wheel_builder"]["sha256"] == runtime_wheel().sha256
    assert manifest["golden"] and all(list(g["outputs"]) == ["fp32"] for g in manifest["golden"])


def test_pinned_core_matches_the_lock_file():
    lock = json.loads((core_mod.NPM_DIR / "package-lock.json").read_text(encoding="utf-8"))
    core = core_mod.pyodide_core()
    assert core.version == lock["packages"]["node_modules/pyodide"]["version"]
    assert set(core.files) == set(core_mod.core_file_names(core.version))
    # The loader really asks for these names (a renamed file in a new release must fail here).
    loader = core.files["pyodide.mjs"].read_text(encoding="utf-8")
    for name in ("pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"):
        assert name in loader, name


def test_wheel_imports_with_only_the_standard_library(tmp_path, sentiment_project):
    """What Pyodide has: the stdlib. No site-packages (-S), and numpy, onnxruntime, torch, onnx blocked."""
    path = runtime_wheel().path
    site = tmp_path / "site"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(site)
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('numpy', 'onnxruntime', 'torch', 'onnx', 'click'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, {str(site)!r})
import {", ".join(pyodide_wheel.PAGE_MODULES)}
from edgepack.runtime.tokenizer import Tokenizer
from edgepack.runtime.manifest import load_manifest
assert edgepack.runtime.__file__.startswith({str(site)!r}), edgepack.runtime.__file__
m = load_manifest({str(sentiment_project / 'build')!r}, verify=True)
tok = Tokenizer.from_file(m.tokenizer_path())
g = m.golden[0]
assert tok.encode(g['text'], g.get('pair')).ids == g['input_ids']
print('ok')
"""
    # -S: no site-packages at all (an editable install of edgepack would otherwise shadow the wheel).
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_a_page_module_needing_numpy_is_refused(tmp_path):
    """Reached through a package __init__ or a plain import, at import time: refused with the chain;
    a lazy import inside a function is fine (that function is just unusable in Pyodide)."""
    files = {"edgepack.errors": "", "edgepack.runtime.artifacts": "", "edgepack.runtime.encoder": "",
             "edgepack.runtime.postprocess": "def f():\n    import numpy\n",
             "edgepack.runtime.tokenizer": "from edgepack.runtime.tokenizer.models import X\n",
             "edgepack.runtime.tokenizer.models": "import json\n",
             "edgepack.runtime": "", "edgepack": "",
             "edgepack.runtime.manifest": "try:\n    import onnxruntime\nexcept ImportError:\n    pass\n"}
    sources = {}
    for name, text in files.items():
        sources[name] = tmp_path / f"{name}.py"
        sources[name].write_text(text, encoding="utf-8")
    with pytest.raises(TargetError, match=r"manifest.py: imports onnxruntime at import time"):
        pyodide_wheel.check_page_modules(sources)
    sources["edgepack.runtime.manifest"].write_text("import json\n", encoding="utf-8")
    pyodide_wheel.check_page_modules(sources)
    sources["edgepack.runtime"].write_text("import numpy as np\n", encoding="utf-8")
    with pytest.raises(TargetError, match=r"edgepack\.runtime\.py: imports numpy at import time"):
        pyodide_wheel.check_page_modules(sources)
    pyodide_wheel.check_page_modules()  # and the real sources pass


def test_refuses_to_replace_a_foreign_directory(sentiment_project, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not an edgepack Pyodide bundle"):
        target.build_pyodide_bundle(sentiment_project / "build", out, brotli_quality=1)
    assert (out / "notes.txt").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary directory left behind"


def test_unknown_precision_is_named(sentiment_project, tmp_path):
    with pytest.raises(ArtifactError, match="no int4 model"):
        target.build_pyodide_bundle(sentiment_project / "build", tmp_path / "b", "int4", brotli_quality=1)


def test_precision_follows_the_manifest_targets():
    from edgepack.runtime.manifest import Manifest

    def M(targets):
        return Manifest({"precisions": {"fp32": {}, "int8": {}}, "default_precision": "fp32", "targets": targets},
                        root=Path("."))

    assert M({}).target_precision("pyodide", "wasm") == "fp32"
    assert M({"wasm": {"precision": "int8"}}).target_precision("pyodide", "wasm") == "int8"
    assert M({"wasm": {"precision": "int8"}, "pyodide": {"precision": "fp32"}}).target_precision("pyodide", "wasm") == "fp32"
    assert M({"wasm": {"precision": "int8"}}).target_precision("pyodide", "wasm", override="fp32") == "fp32"
    with pytest.raises(ArtifactError, match="no int4 model"):
        M({}).target_precision("wasm", override="int4")


def test_vendored_core_is_preferred_and_checked(tmp_path):
    """`python -m edgepack.web.pyodide vendor` (for pip installs): copies + stamp; edits are refused."""
    npm = tmp_path / "pyodide_npm"
    npm.mkdir()
    shutil.copyfile(core_mod.NPM_DIR / "package-lock.json", npm / "package-lock.json")
    (npm / "node_modules").symlink_to(core_mod.NPM_DIR / "node_modules")
    vendored = core_mod.vendor_pyodide(npm, brotli_quality=1)
    assert vendored.origin == "vendor" and set(vendored.files) == set(core_mod.core_file_names(vendored.version))
    assert "pyodide.asm.wasm" in vendored.brotli
    assert core_mod.pyodide_core(npm).origin == "vendor"
    with (npm / "vendor" / "pyodide.mjs").open("a") as f:
        f.write("// edited\n")
    with pytest.raises(TargetError, match="pyodide.mjs: missing or does not match"):
        core_mod.pyodide_core(npm)


def test_missing_pyodide_names_the_npm_step(tmp_path):
    shutil.copyfile(core_mod.NPM_DIR / "package-lock.json", tmp_path / "package-lock.json")
    with pytest.raises(TargetError, match="run `npm ci` in"):
        core_mod.pyodide_core(tmp_path)
    with pytest.raises(TargetError, match="package-lock.json: missing"):
        core_mod.pyodide_core(tmp_path / "nowhere")


def test_refuses_a_file_as_output(sentiment_project, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a directory"):
        target.build_pyodide_bundle(sentiment_project / "build", tmp_path / "file", brotli_quality=1)


def test_options_of_other_targets_are_named(tmp_path):
    with pytest.raises(TargetError, match="pythons do not apply to the pyodide target"):
        target.build_target(None, tmp_path, tmp_path, None, pythons=["3.11"])
