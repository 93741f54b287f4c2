"""The bundle builder and the vendored onnxruntime-web files (no browser needed)."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from tests.web.bundle_support import build_bundle
from tests.web.tiny_artifact_support import TEXTS

from edgepack.errors import ArtifactError, OutputError, TargetError
from edgepack.runtime.manifest import load_manifest
from edgepack.web.host_config import CSP
from edgepack.web.vendor import ORT_FILES, ort_files, pinned_version, vendor_ort

ORT_IN_BUNDLE = {f"ort/{name}" for name in ORT_FILES}


def test_bundle_layout_and_manifest(tiny_bundle, tiny_artifact):
    manifest = load_manifest(tiny_bundle, verify=True)  # every listed file's sha256 and size
    files = set(manifest.data["files"])
    on_disk = {p.relative_to(tiny_bundle).as_posix() for p in tiny_bundle.rglob("*") if p.is_file()}
    assert files == on_disk - {"manifest.json"}, "manifest must list every file of the bundle"
    for required in ("index.html", "app.mjs", "demo.css", "edgepack/pipeline.mjs", "edgepack/session.mjs",
                     "edgepack/integrity.mjs", "edgepack/artifacts.mjs", "edgepack/tokenizer.mjs",
                     "model.fp32.onnx", "tokenizer.json", "_headers", "vercel.json", "nginx.conf", ".htaccess"):
        assert required in files, required
    # Exactly the wasm-only ORT files: no JSEP/WebGPU build, no other entry points.
    assert {f for f in files if f.startswith("ort/") and not f.endswith((".br", ".gz"))} == ORT_IN_BUNDLE
    assert "model.int8.onnx" not in files
    assert "ort/ort-wasm-simd-threaded.wasm.br" in files and "ort/ort-wasm-simd-threaded.wasm.gz" in files
    # One precision, golden outputs narrowed to it, the rest of the artifact manifest kept.
    original = load_manifest(tiny_artifact).data
    data = manifest.data
    assert list(data["precisions"]) == ["fp32"] and data["default_precision"] == "fp32"
    assert all(list(g["outputs"]) == ["fp32"] for g in data["golden"])
    assert [g["text"] for g in data["golden"]] == TEXTS
    assert data["model"] == original["model"] and data["tokenizer"] == original["tokenizer"]
    assert data["targets"]["wasm"]["onnxruntime_web"] == pinned_version() == data["tools"]["onnxruntime-web"]
    assert list(data)[0] == "format_version"


def test_zip_holds_the_bundle(tiny_bundle):
    zip_path = tiny_bundle.with_name(tiny_bundle.name + ".zip")
    with zipfile.ZipFile(zip_path) as zf:
        names = {n.split("/", 1)[1] for n in zf.namelist()}
        assert zf.read(f"{tiny_bundle.name}/model.fp32.onnx") == (tiny_bundle / "model.fp32.onnx").read_bytes()
    assert names == {p.relative_to(tiny_bundle).as_posix() for p in tiny_bundle.rglob("*") if p.is_file()}


def test_host_header_files(tiny_bundle):
    headers = (tiny_bundle / "_headers").read_text()
    assert "Cross-Origin-Opener-Policy: same-origin" in headers and "Cross-Origin-Embedder-Policy: require-corp" in headers
    assert f"Content-Security-Policy: {CSP}" in headers
    vercel = json.loads((tiny_bundle / "vercel.json").read_text())
    keys = {h["key"] for rule in vercel["headers"] for h in rule["headers"]}
    assert {"Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy", "Content-Security-Policy"} <= keys
    assert "application/wasm" in (tiny_bundle / ".htaccess").read_text()


def test_no_inline_script_or_style(tiny_bundle):
    html = (tiny_bundle / "index.html").read_text()
    assert "<style" not in html and " style=" not in html
    assert html.count("<script") == 1 and 'src="app.mjs"' in html
    assert "http://" not in html and "https://" not in html


def test_rebuild_replaces_and_unknown_precision(tiny_artifact, tmp_path):
    out = tmp_path / "b"
    build_bundle(tiny_artifact, out, "fp32")
    build_bundle(tiny_artifact, out, "int8")  # replacing an earlier bundle is fine
    assert (out / "model.int8.onnx").is_file() and not (out / "model.fp32.onnx").exists()
    with pytest.raises(ArtifactError, match="no fp16 model"):
        build_bundle(tiny_artifact, tmp_path / "c", "fp16")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "b.zip"], "a failed build left files behind"


def test_refuses_to_replace_a_foreign_directory(tiny_artifact, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not an edgepack wasm bundle"):
        build_bundle(tiny_artifact, precious, "fp32")
    assert (precious / "notes.txt").read_text() == "keep me"


def test_tampered_artifact_is_refused(tiny_artifact, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(tiny_artifact, art)
    with open(art / "model.fp32.onnx", "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ArtifactError, match="model.fp32.onnx: sha256 does not match"):
        build_bundle(art, tmp_path / "out", "fp32")
    assert not (tmp_path / "out").exists()


def test_missing_runtime_module_is_named(tiny_artifact, tmp_path):
    from edgepack.web.bundle import RUNTIME_DIR, build_wasm_bundle

    runtime = tmp_path / "src"
    shutil.copytree(RUNTIME_DIR, runtime)
    (runtime / "session.mjs").unlink()
    with pytest.raises(TargetError, match="session.mjs: missing"):
        build_wasm_bundle(tiny_artifact, tmp_path / "out", "fp32", runtime_dir=runtime)


def test_vendor_copies_exactly_the_pinned_files(tmp_path):
    dest = tmp_path / "vendor"
    files = vendor_ort(dest, brotli_quality=1)
    assert files.origin == "vendor" and files.version == pinned_version()
    assert sorted(p.name for p in dest.iterdir() if not p.name.endswith(".br")) == sorted(
        [*ORT_FILES, "onnxruntime-web.json", ".gitignore"]
    )
    assert set(files.brotli) == set(ORT_FILES)


def test_vendored_files_are_checked(tmp_path):
    from edgepack.web import vendor

    web = tmp_path / "web"
    web.mkdir()
    shutil.copyfile(vendor.WEB_DIR / "package-lock.json", web / "package-lock.json")
    with pytest.raises(TargetError, match="npm ci"):
        ort_files(web)  # neither vendor/ nor node_modules/
    vendor_ort(web / "vendor", brotli_quality=1)  # from the real node_modules
    assert ort_files(web).origin == "vendor"
    wasm = web / "vendor" / "ort-wasm-simd-threaded.wasm"
    wasm.write_bytes(wasm.read_bytes()[:-1])
    with pytest.raises(TargetError, match="does not match"):
        ort_files(web)
    stamp = web / "vendor" / "onnxruntime-web.json"
    stamp.write_text(stamp.read_text().replace(pinned_version(), "0.0.1"))
    with pytest.raises(TargetError, match="pins"):
        ort_files(web)
