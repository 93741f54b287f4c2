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
the modules the page imports (PAGE_MODULES) are checked at build time to import neither.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from edgepack.assemble import check_out_dir, file_table, narrow_manifest, write_manifest
from edgepack.atomic import atomic_publish
from edgepack.errors import EdgepackError, TargetError
from edgepack.runtime.artifacts import MANIFEST_NAME
from edgepack.runtime.hashing import sha256_file
from edgepack.runtime.manifest import load_manifest
from edgepack.runtime_wheel import RuntimeWheel, build_runtime_wheel, module_sources, runtime_wheel
from edgepack.web.compress import COMPRESSIBLE_SUFFIXES, brotli_bytes, compress_tree, worth_keeping
from edgepack.web.host_config import HOST_FILES, write_host_files
from edgepack.web.vendor import WEB_DIR, ort_files

PAGE_DIR = WEB_DIR / "pyodide_page"
NPM_DIR = WEB_DIR / "pyodide_npm"
PACKAGE = "pyodide"
PYODIDE_PREFIX = "pyodide"
ORT_PREFIX = "ort"
JS_PREFIX = "edgepack"
WHEEL_PREFIX = "wheels"
PAGE_PY = "browser_pipeline.py"
# From web/src/: the ORT session (the one JS place that talks to ORT) and the SRI-checked fetch.
JS_RUNTIME = ("session.mjs", "integrity.mjs")
# Not in Pyodide without extra downloads: what browser_pipeline.py imports must not import these.
NATIVE_IMPORTS = ("numpy", "onnxruntime")
PAGE_MODULES = ("edgepack.errors", "edgepack.runtime.artifacts", "edgepack.runtime.manifest", "edgepack.runtime.encoder",
                "edgepack.runtime.postprocess", "edgepack.runtime.tokenizer")
SUPPORTED_TASKS = ("text-classification", "feature-extraction")
BUNDLE_LAYOUT_VERSION = 1


# --- the Pyodide core ------------------------------------------------------------------------------

def core_file_names(version: str) -> tuple[str, ...]:
    """The Pyodide files a page needs that loads no Pyodide packages (checked against the pinned
    release's loader: it imports ``pyodide.asm.mjs``, streams ``pyodide.asm.wasm``, unpacks
    ``python_stdlib.zip`` and always fetches the lock file). Releases before 0.28 shipped
    ``pyodide.asm.js`` instead of ``.mjs``."""
    major = version.split(".")[0]
    asm = "pyodide.asm.js" if major == "0" and int(version.split(".")[1]) < 28 else "pyodide.asm.mjs"
    return ("pyodide.mjs", asm, "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")


@dataclass(frozen=True)
class PyodideCore:
    version: str
    origin: str  # "vendor" or "node_modules"
    files: dict[str, Path]
    brotli: dict[str, Path] = field(default_factory=dict)  # name -> ready .br (vendor only)


def pinned_version(npm_dir: Path = NPM_DIR) -> str:
    lock = npm_dir / "package-lock.json"
    try:
        return json.loads(lock.read_text(encoding="utf-8"))["packages"][f"node_modules/{PACKAGE}"]["version"]
    except FileNotFoundError:
        raise TargetError(f"{lock}: missing; edgepack.web is incompletely installed (reinstall edgepack)") from None
    except (KeyError, TypeError, ValueError):
        raise TargetError(f"{lock}: no packages['node_modules/{PACKAGE}'].version; run `npm install` in {npm_dir}") from None


def _core_from_vendor(vendor: Path, version: str) -> PyodideCore | None:
    stamp_path = vendor / f"{PACKAGE}.json"
    if not stamp_path.is_file():
        return None
    stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    if stamp.get("version") != version:
        raise TargetError(f"{stamp_path}: vendored {PACKAGE} {stamp.get('version')} but package-lock.json pins "
                          f"{version}; run `npm ci` in {vendor.parent} then `python -m edgepack.web.pyodide vendor`")
    files, ready = {}, {}
    for name in core_file_names(version):
        meta = stamp.get("files", {}).get(name)
        path = vendor / name
        if meta is None or not path.is_file() or sha256_file(path) != meta["sha256"]:
            raise TargetError(f"{path}: missing or does not match {stamp_path}; "
                              "re-run `python -m edgepack.web.pyodide vendor` (or reinstall edgepack)")
        files[name] = path
        br = vendor / (name + ".br")
        if br.is_file() and meta.get("br_sha256") == sha256_file(br):
            ready[name] = br
    return PyodideCore(version, "vendor", files, ready)


def _core_from_node_modules(dist: Path, version: str) -> PyodideCore | None:
    pkg = dist / "package.json"
    if not pkg.is_file():
        return None
    installed = json.loads(pkg.read_text(encoding="utf-8")).get("version")
    if installed != version:
        raise TargetError(f"{pkg}: {PACKAGE} {installed} is installed but package-lock.json pins {version}; "
                          f"run `npm ci` in {dist.parents[1]}")
    missing = [n for n in core_file_names(version) if not (dist / n).is_file()]
    if missing:
        raise TargetError(f"{dist}: missing {', '.join(missing)}; run `npm ci` in {dist.parents[1]}")
    return PyodideCore(version, "node_modules", {n: dist / n for n in core_file_names(version)})


def pyodide_core(npm_dir: Path = NPM_DIR) -> PyodideCore:
    """The pinned Pyodide core: ``pyodide_npm/vendor/`` first, then ``pyodide_npm/node_modules/``."""
    version = pinned_version(npm_dir)
    found = _core_from_vendor(npm_dir / "vendor", version) or _core_from_node_modules(
        npm_dir / "node_modules" / PACKAGE, version)
    if found is None:
        raise TargetError(f"no {PACKAGE} {version} files in {npm_dir / 'vendor'} or {npm_dir / 'node_modules'}: "
                          f"run `npm ci` in {npm_dir} (and `python -m edgepack.web.pyodide vendor` before "
                          "building edgepack's wheel)")
    return found


def vendor_pyodide(npm_dir: Path = NPM_DIR, brotli_quality: int = 11) -> PyodideCore:
    """Copy the pinned core from node_modules into ``pyodide_npm/vendor/`` (git-ignored package data),
    with brotli-11 copies made once here (the 9.6 MB wasm takes ~45 s at quality 11)."""
    version = pinned_version(npm_dir)
    src = _core_from_node_modules(npm_dir / "node_modules" / PACKAGE, version)
    if src is None:
        raise TargetError(f"{npm_dir / 'node_modules'}: {PACKAGE} is not installed; run `npm ci` in {npm_dir}")
    dest = npm_dir / "vendor"
    with atomic_publish(dest) as tmp:
        os.chmod(tmp, 0o755)  # package data, whatever the umask
        stamp = {"package": PACKAGE, "version": version, "files": {}}
        for name, path in src.files.items():
            shutil.copyfile(path, tmp / name)
            meta = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
            if Path(name).suffix in COMPRESSIBLE_SUFFIXES:
                data = path.read_bytes()
                br = brotli_bytes(data, quality=brotli_quality)
                if worth_keeping(len(data), len(br)):
                    (tmp / (name + ".br")).write_bytes(br)
                    meta["br_sha256"] = sha256_file(tmp / (name + ".br"))
            stamp["files"][name] = meta
        (tmp / f"{PACKAGE}.json").write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / ".gitignore").write_text("*\n", encoding="utf-8")
    return _core_from_vendor(dest, version)


# --- the runtime wheel -----------------------------------------------------------------------------
# The page unpacks the one edgepack-runtime wheel (edgepack.runtime_wheel) every target ships.
# Pyodide has no onnxruntime, and numpy only as a separate download, so what the page imports must
# import without them; the rest of the wheel (session, pipeline, service) is simply never imported.

def _module_imports(path: Path) -> set[str]:
    """Absolute module names ``path`` imports when it is imported: module level (inside ``try``/``if``
    and class bodies too), not inside functions -- a lazy import only fails if that function is called."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return names


def check_page_modules(sources: dict[str, Path] | None = None) -> None:
    """Refuse, naming the chain, a page module that now needs numpy/onnxruntime at import time."""
    sources = sources if sources is not None else module_sources()
    seen, todo = {}, []
    for m in PAGE_MODULES:  # importing a submodule runs its packages' __init__ first
        parts = m.split(".")
        todo += [(".".join(parts[:i]), (m, ".".join(parts[:i]))) for i in range(1, len(parts))] + [(m, (m,))]
    while todo:
        name, chain = todo.pop()
        if name in seen or name not in sources:
            continue
        seen[name] = chain
        for dep in sorted(_module_imports(sources[name])):
            if dep.split(".")[0] in NATIVE_IMPORTS:
                raise TargetError(f"{sources[name]}: imports {dep} at import time ({' -> '.join(chain)}); "
                                  "Pyodide has no numpy/onnxruntime: import it inside the function that needs it")
            parts = dep.split(".")
            todo += [(".".join(parts[:i]), (*chain, ".".join(parts[:i]))) for i in range(1, len(parts) + 1)]


def page_wheel() -> tuple[RuntimeWheel, dict]:
    """(the runtime wheel, the manifest's record of where it came from)."""
    check_page_modules()
    wheel = runtime_wheel()
    return wheel, {"builder": "edgepack.runtime_wheel", "sha256": wheel.sha256,
                   "reason": "the edgepack-runtime wheel every target ships (pure Python, standard-library builder)"}


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
    with progress.stage(f"building the Pyodide page {directory}"):
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
