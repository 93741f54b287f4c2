"""``edgepack build --target wasm``: a built artifact -> an offline, self-testing browser bundle.

Layout of the bundle (a static directory, plus ``<dir>.zip`` of it)::

    index.html app.mjs demo.css favicon.svg   the demo page (web/demo/)
    edgepack/*.mjs, edgepack/tokenizer/      the JS runtime (web/src/): importable by other apps
    ort/ort.wasm.min.mjs ort/ort-wasm-simd-threaded.{mjs,wasm}   onnxruntime-web, wasm-only entry
    model.<precision>.onnx tokenizer.json    the model in ONE precision, and its tokenizer
    manifest.json                            the artifact's manifest, narrowed to that precision,
                                             with the sha256 of every other file of the bundle
    _headers vercel.json ... nginx.conf      COOP/COEP/CSP for common static hosts (host_config.py)
    *.br *.gz                                pre-compressed copies (brotli 11, gzip 9)

The directory and its zip are built in a temporary sibling and published together by
:func:`edgepack.atomic.atomic_publish`: a failed or interrupted build leaves the previous bundle and
zip (from one build) in place, and a server never sees a mix of two builds. The zip is reproducible
(edgepack.archive).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgepack.assemble import check_out_dir, file_table, narrow_manifest, write_manifest
from edgepack.atomic import atomic_publish
from edgepack.errors import TargetError
from edgepack.runtime.artifacts import MANIFEST_NAME
from edgepack.runtime.manifest import load_manifest
from edgepack.web.compress import compress_tree
from edgepack.web.host_config import HOST_FILES, write_host_files
from edgepack.web.vendor import WEB_DIR, ort_files

DEMO_DIR = WEB_DIR / "demo"
RUNTIME_DIR = WEB_DIR / "src"
# web/demo/ files that document the page (the README shows them) and are not part of a bundle.
DEMO_DOCS_ONLY = ("screenshot.png", "screenshot-similarity.png", "bench-report.png")
RUNTIME_PREFIX = "edgepack"
ORT_PREFIX = "ort"
BUNDLE_LAYOUT_VERSION = 1
# Tasks the runtime knows how to post-process; the demo page shows classification.
SUPPORTED_TASKS = ("text-classification", "feature-extraction")


@dataclass(frozen=True)
class WasmBundle:
    """What :func:`build_wasm_bundle` made."""

    directory: Path
    zip_path: Path
    precision: str
    model_file: str
    onnxruntime_web: str
    total_bytes: int  # every uncompressed file, as served without compression
    transfer_bytes: int  # what a brotli-capable browser downloads to reach a first result
    files: dict[str, int]  # relative path -> bytes (uncompressed files only)
    speed: dict | None = None  # the wasm speed gate's decision when precision was "auto" (else None)
    decision: dict | None = None  # targets.wasm as shipped in the bundle's manifest (the record that decided)


def _runtime_sources(runtime_dir: Path) -> list[tuple[Path, str]]:
    """(source, bundle path) for the JS runtime: src/*.mjs and src/tokenizer/**.mjs."""
    out = []
    for path in sorted(runtime_dir.rglob("*.mjs")):
        rel = path.relative_to(runtime_dir)
        if any(part.startswith(".") or part in ("test", "tests", "node_modules") for part in rel.parts):
            continue
        out.append((path, f"{RUNTIME_PREFIX}/{rel.as_posix()}"))
    names = {dest for _, dest in out}
    # The tokenizer's modules mirror the Python package's (web/src/tokenizer/, one per component).
    tokenizer = ("index", "tokenizer", "spec", "tables", "unicode", "normalized", "normalizers", "pre_tokenizers",
                 "models", "processors", "decoders", "added_vocab", "encoding", "bpe", "unigram", "byte_level",
                 "metaspace", "precompiled", "regex", "regex_tables")
    for required in ("pipeline.mjs", "session.mjs", "integrity.mjs", "artifacts.mjs", "tokenizer.mjs",
                     *(f"tokenizer/{name}.mjs" for name in tokenizer)):
        if f"{RUNTIME_PREFIX}/{required}" not in names:
            raise TargetError(f"{runtime_dir / required}: missing from the JS runtime; reinstall edgepack")
    return out


def copy_page(dest: Path, runtime: list[tuple[Path, str]], ort: dict[str, Path], link_ort: bool = False) -> None:
    """The demo page, the JS runtime (``runtime``: from :func:`_runtime_sources`) and onnxruntime-web
    into ``dest``: every bundle, and the wasm speed gate's temporary page (``link_ort``: symlink the
    14 MB wasm instead of copying it)."""
    for src in sorted(DEMO_DIR.iterdir()):
        if src.is_file() and not src.name.startswith(".") and src.name not in DEMO_DOCS_ONLY:
            shutil.copyfile(src, dest / src.name)
    for src, rel in runtime:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / rel)
    (dest / ORT_PREFIX).mkdir()
    for name, src in ort.items():
        if link_ort:
            (dest / ORT_PREFIX / name).symlink_to(Path(src).resolve())
        else:
            shutil.copyfile(src, dest / ORT_PREFIX / name)


def build_wasm_bundle(
    artifact_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    precision: str | None = None,
    *,
    zip_path: str | os.PathLike | None = None,
    brotli_quality: int = 11,
    runtime_dir: str | os.PathLike | None = None,
    wasm_speed: dict | None = None,
    max_slowdown: float = 0.05,
) -> WasmBundle:
    """Build the browser bundle for ``artifact_dir`` (a build directory with manifest.json) into ``out_dir``.

    ``precision``: which model to ship (default: ``targets.wasm.precision`` recorded by the gates,
    else the manifest's default). ``zip_path`` defaults to ``<out_dir>.zip``. ``runtime_dir``
    overrides where the JS runtime comes from (default: the installed ``web/src``).
    ``precision="auto"`` applies the wasm speed gate: int8 ships only if headless Chromium times it
    no slower than fp32 (``max_slowdown`` tolerance); ``wasm_speed`` ({"fp32_ms", "int8_ms"})
    decides on given numbers instead. The choice and its numbers go to ``targets.wasm``.
    The artifact is verified against its manifest first; a tampered artifact is refused.
    """
    manifest = load_manifest(artifact_dir, verify=True)
    # What `edgepack quantize` decided for wasm, read, never re-measured. Imported here: the quantize
    # package pulls in its whole stage (0.1 s) that serving or inspecting a bundle never needs.
    from edgepack.quantize.decision import for_target

    precision, decision = for_target(manifest, "wasm", precision, wasm_speed, max_slowdown)
    if manifest.task not in SUPPORTED_TASKS:
        raise TargetError(
            f"{manifest.root / MANIFEST_NAME}: task {manifest.task!r} has no browser runtime "
            f"(supported: {', '.join(SUPPORTED_TASKS)})"
        )
    model_file = manifest.precisions[precision]["file"]
    if any(name.startswith(model_file) and name != model_file for name in manifest.data.get("files", {})):
        raise TargetError(
            f"{manifest.root / model_file}: has external data files; the browser bundle needs a single-file "
            "model (export with external data folded in)"
        )
    ort = ort_files()
    runtime = _runtime_sources(Path(runtime_dir) if runtime_dir else RUNTIME_DIR)

    out = Path(out_dir).resolve()
    check_out_dir(out, "wasm", marker="index.html")
    zip_path = Path(zip_path).resolve() if zip_path else out.with_name(out.name + ".zip")
    # The directory and its zip are published together (same build, or both the previous one).
    with atomic_publish(out, archives=[zip_path]) as tmp:
        copy_page(tmp, runtime, ort.files)
        shutil.copyfile(manifest.root / model_file, tmp / model_file)
        tok_file = manifest.data["tokenizer"]["file"]
        shutil.copyfile(manifest.root / tok_file, tmp / tok_file)
        write_host_files(tmp)

        ready = {f"{ORT_PREFIX}/{name}": path for name, path in ort.brotli.items()}
        compress_tree(tmp, ready, brotli_quality, skip=(MANIFEST_NAME, *HOST_FILES))

        data = narrow_manifest(manifest.data, precision, "wasm", {
            **(decision or {}), "onnxruntime_web": ort.version, "bundle_layout": BUNDLE_LAYOUT_VERSION,
        }, tools={"onnxruntime-web": ort.version})
        data["files"] = files = file_table(tmp)
        write_manifest(tmp, data)

    plain = {rel: meta["bytes"] for rel, meta in files.items() if not rel.endswith((".br", ".gz"))}
    plain[MANIFEST_NAME] = (out / MANIFEST_NAME).stat().st_size
    # Files a first visit fetches: the page, its modules, ORT, model, tokenizer, manifest.
    first_visit = [r for r in plain if r.endswith((".html", ".mjs", ".css", ".wasm", ".onnx", ".json", ".svg"))]
    first_visit = [r for r in first_visit if "/" in r or r in ("index.html", "app.mjs", "demo.css", "favicon.svg", MANIFEST_NAME, model_file, tok_file)]
    transfer = sum(files.get(r + ".br", {"bytes": plain[r]})["bytes"] for r in first_visit)
    return WasmBundle(
        directory=out,
        zip_path=zip_path,
        precision=precision,
        model_file=model_file,
        onnxruntime_web=ort.version,
        total_bytes=sum(plain.values()),
        transfer_bytes=transfer,
        files=plain,
        speed=decision,
        decision=data["targets"]["wasm"],
    )


def build_target(project, build_dir, out_dir, progress, precision: str | None = None, **options) -> dict:
    """Adapter for ``edgepack.build.TARGETS['wasm']``: bundle into ``<out_dir>/<name>-wasm/`` (+ .zip)."""
    directory = Path(out_dir) / f"{project.name}-wasm"
    if precision is None:  # [targets] wasm precision: "auto" (the default) runs the browser speed gate
        precision = (project.section("targets").get("wasm") or {}).get("precision", "auto")
        options.setdefault("max_slowdown", float(project.section("quantization").get("max_slowdown", 0.05)))
    with progress.step(f"building the browser bundle {directory}"):
        result = build_wasm_bundle(build_dir, directory, precision, **options)
    progress.say(
        f"  {result.precision} model, onnxruntime-web {result.onnxruntime_web}, "
        f"{result.total_bytes / 1e6:.1f} MB on disk, {result.transfer_bytes / 1e6:.2f} MB to transfer (brotli)"
    )
    reason = (result.decision or {}).get("reason")
    if reason:
        progress.say(f"  wasm precision: {reason}")
    return {
        "directory": str(result.directory),
        "zip": str(result.zip_path),
        "precision": result.precision,
        "model_file": result.model_file,
        "onnxruntime_web": result.onnxruntime_web,
        "total_bytes": result.total_bytes,
        "transfer_bytes": result.transfer_bytes,
        "precision_reason": reason,
    }
