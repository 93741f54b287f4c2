"""``edgepack build --target pyodide``: edgepack's *Python* runtime in the browser, beside onnxruntime-web.

Layout of the bundle (a static directory; serve it with ``edgepack serve``)::

    index.html app.mjs pyodide.css favicon.svg   the page (web/pyodide_page/)
    browser_pipeline.py                          the Python code the page runs, and shows
    pyodide/pyodide.mjs pyodide.asm.{mjs,wasm}   the Pyodide core, self-hosted from the npm package
            python_stdlib.zip pyodide-lock.json  pinned in web/pyodide_npm/ (no Pyodide packages)
    wheels/edgepack_runtime-<v>-py3-none-any.whl the edgepack-runtime wheel (the page uses its tokenizer, manifest)
    edgepack/session.mjs integrity.mjs           the JS runtime's ORT session + verified fetch (web/src/)
    ort/ort.wasm.min.mjs ort-wasm-simd-threaded.* onnxruntime-web, wasm-only entry (web/vendor.py)
    model.<precision>.onnx tokenizer.json        one precision, and its tokenizer
    manifest.json                                narrowed to that precision; sha256 of every other file
    _headers vercel.json ... nginx.conf          COOP/COEP/CSP for common static hosts (host_config.py)
    *.br *.gz                                    pre-compressed copies

The wheel is edgepack-runtime (edgepack.runtime_wheel), byte for byte the file the Raspberry Pi
package installs. Pyodide has no onnxruntime, and numpy only as a separately downloaded package:
the modules the page imports (pyodide_wheel.PAGE_MODULES) are checked at build time to import neither.
The core: web/pyodide_core.py; the wheel check: web/pyodide_wheel.py.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from edgepack.assemble import check_out_dir, file_table, narrow_manifest, write_manifest
from edgepack.atomic import atomic_publish
from edgepack.errors import EdgepackError, TargetError
from edgepack.runtime.artifacts import MANIFEST_NAME
from edgepack.runtime.manifest import load_manifest
from edgepack.runtime_wheel import build_runtime_wheel
from edgepack.web.compress import compress_tree
from edgepack.web.host_config import HOST_FILES, write_host_files
from edgepack.web.pyodide_core import pyodide_core, vendor_pyodide
from edgepack.web.pyodide_wheel import check_page_modules, page_wheel
from edgepack.web.vendor import WEB_DIR, ort_files

PAGE_DIR = WEB_DIR / "pyodide_page"
PYODIDE_PREFIX = "pyodide"
ORT_PREFIX = "ort"
JS_PREFIX = "edgepack"
WHEEL_PREFIX = "wheels"
PAGE_PY = "browser_pipeline.py"
# From web/src/: the ORT session (the one JS place that talks to ORT) and the SRI-checked fetch.
JS_RUNTIME = ("session.mjs", "integrity.mjs")
SUPPORTED_TASKS = ("text-classification", "feature-extraction")
BUNDLE_LAYOUT_VERSION = 1


# --- the bundle ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PyodideBundle:
    directory: Path
    precision: str
    model_file: str
    pyodide: str
    onnxruntime_web: str
    wheel: str
    wheel_builder: dict
    total_bytes: int


def build_pyodide_bundle(artifact_dir: str | os.PathLike, out_dir: str | os.PathLike, precision: str | None = None,
                         *, brotli_quality: int = 9) -> PyodideBundle:
    """Build the Pyodide page for ``artifact_dir`` (verified against its manifest first) into ``out_dir``.

    ``brotli_quality`` 9 by default: quality 11 on Pyodide's 9.6 MB wasm takes ~45 s for ~12% less
    (vendored cores carry ready quality-11 copies, which are used as they are).
    """
    manifest = load_manifest(artifact_dir, verify=True)
    precision = manifest.target_precision("pyodide", "wasm", override=precision)
    if manifest.task not in SUPPORTED_TASKS:
        raise TargetError(f"{manifest.root / MANIFEST_NAME}: task {manifest.task!r} has no browser runtime "
                          f"(supported: {', '.join(SUPPORTED_TASKS)})")
    model_file = manifest.precisions[precision]["file"]
    if any(n.startswith(model_file) and n != model_file for n in manifest.data.get("files", {})):
        raise TargetError(f"{manifest.root / model_file}: has external data files; the browser needs a single-file model")
    core, ort = pyodide_core(), ort_files()
    wheel, wheel_info = page_wheel()
    for name in JS_RUNTIME:
        if not (WEB_DIR / "src" / name).is_file():
            raise TargetError(f"{WEB_DIR / 'src' / name}: missing from the JS runtime; reinstall edgepack")

    out = Path(out_dir).resolve()
    check_out_dir(out, "pyodide", name="Pyodide")
    with atomic_publish(out) as tmp:
        for src in sorted(PAGE_DIR.iterdir()):
            if src.is_file() and not src.name.startswith(".") and src.suffix != ".pyc":
                shutil.copyfile(src, tmp / src.name)
        for sub, files in ((PYODIDE_PREFIX, core.files), (ORT_PREFIX, ort.files),
                           (JS_PREFIX, {n: WEB_DIR / "src" / n for n in JS_RUNTIME})):
            (tmp / sub).mkdir()
            for name, path in files.items():
                shutil.copyfile(path, tmp / sub / name)
        (tmp / WHEEL_PREFIX).mkdir()
        shutil.copyfile(wheel.path, tmp / WHEEL_PREFIX / wheel.path.name)
        shutil.copyfile(manifest.root / model_file, tmp / model_file)
        tok_file = manifest.data["tokenizer"]["file"]
        shutil.copyfile(manifest.root / tok_file, tmp / tok_file)
        write_host_files(tmp)
        ready = {f"{PYODIDE_PREFIX}/{n}": p for n, p in core.brotli.items()}
        ready.update({f"{ORT_PREFIX}/{n}": p for n, p in ort.brotli.items()})
        compress_tree(tmp, ready, brotli_quality, skip=(MANIFEST_NAME, *HOST_FILES))

        data = narrow_manifest(manifest.data, precision, "pyodide", {
            "pyodide": core.version,
            "onnxruntime_web": ort.version,
            "wheel": f"{WHEEL_PREFIX}/{wheel.path.name}",
            "wheel_builder": wheel_info,
            "page_code": PAGE_PY,
            "bundle_layout": BUNDLE_LAYOUT_VERSION,
        }, tools={"pyodide": core.version, "onnxruntime-web": ort.version})
        data["files"] = file_table(tmp)
        write_manifest(tmp, data)
    total = sum(m["bytes"] for r, m in data["files"].items() if not r.endswith((".br", ".gz")))
    return PyodideBundle(out, precision, model_file, core.version, ort.version, f"{WHEEL_PREFIX}/{wheel.path.name}",
                         wheel_info, total + (out / MANIFEST_NAME).stat().st_size)


def build_target(project, build_dir, out_dir, progress, precision: str | None = None, **options) -> dict:
    """Adapter for ``edgepack.build.TARGETS['pyodide']``: the page into ``<out_dir>/<name>-pyodide/``."""
    unknown = sorted(set(options) - {"brotli_quality"})
    if unknown:
        raise TargetError(f"option(s) {', '.join(unknown)} do not apply to the pyodide target "
                          "(it takes --precision; --python is for --target rpi)")
    directory = Path(out_dir) / f"{project.name}-pyodide"
    with progress.step(f"building the Pyodide page {directory}"):
        result = build_pyodide_bundle(build_dir, directory, precision, **options)
    progress.say(f"  {result.precision} model, Pyodide {result.pyodide}, onnxruntime-web {result.onnxruntime_web}, "
                 f"runtime wheel {result.wheel.rsplit('/', 1)[-1]}, "
                 f"{result.total_bytes / 1e6:.1f} MB on disk")
    return {"directory": str(result.directory), "precision": result.precision, "model_file": result.model_file,
            "pyodide": result.pyodide, "onnxruntime_web": result.onnxruntime_web, "wheel": result.wheel,
            "wheel_builder": result.wheel_builder["builder"], "total_bytes": result.total_bytes}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Pyodide target helpers.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("vendor", help="copy the pinned Pyodide core into web/pyodide_npm/vendor/ (after npm ci)")
    wheel = sub.add_parser("wheel", help="build the edgepack-runtime wheel the page loads")
    wheel.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "vendor":
            for name, path in vendor_pyodide().files.items():
                print(f"{path}  ({path.stat().st_size:,} bytes)")
        else:
            check_page_modules()
            wheel = build_runtime_wheel(args.out_dir)
            print(f"{wheel.path}  ({len(wheel.modules)} modules, sha256 {wheel.sha256})")
    except EdgepackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
