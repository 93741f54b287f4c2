"""``edgepack build --target pyodide``: edgepack's *Python* runtime in the browser, beside onnxruntime-web.

Layout of the bundle (a static directory; serve it with ``edgepack serve``)::

    index.html app.mjs pyodide.css favicon.svg   the page (web/pyodide_page/)
    browser_pipeline.py                          the Python code the page runs, and shows
    pyodide/pyodide.mjs pyodide.asm.{mjs,wasm}   the Pyodide core, self-hosted from the npm package
            python_stdlib.zip pyodide-lock.json  pinned in web/pyodide_npm/ (no Pyodide packages)
    wheels/edgepack_runtime-<v>-py3-none-any.whl edgepack.runtime (tokenizer, manifest) as a pure wheel
    edgepack/session.mjs integrity.mjs           the JS runtime's ORT session + verified fetch (web/src/)
    ort/ort.wasm.min.mjs ort-wasm-simd-threaded.* onnxruntime-web, wasm-only entry (web/vendor.py)
    model.<precision>.onnx tokenizer.json        one precision, and its tokenizer
    manifest.json                                narrowed to that precision; sha256 of every other file
    _headers vercel.json ... nginx.conf          COOP/COEP/CSP for common static hosts (headers.py)
    *.br *.gz                                    pre-compressed copies

The wheel: Pyodide has no onnxruntime, and numpy only as a separately downloaded package, so the
wheel holds the runtime modules that import neither at import time (found by reading their
imports, so a module that becomes numpy-free, or imports numpy lazily, joins the wheel by itself). It is made with the standard library (zipfile +
METADATA/WHEEL/RECORD). ``pyodide-build`` is used instead where it can run: it needs Python >= 3.12
and downloads a cross-build environment; the manifest records which builder made the wheel and why.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import edgepack
from edgepack.archive import zip_bytes
from edgepack.assemble import check_out_dir, file_table, narrow_manifest, write_manifest
from edgepack.atomic import atomic_publish, atomic_write_bytes
from edgepack.errors import TargetError
from edgepack.runtime.artifacts import MANIFEST_NAME
from edgepack.runtime.hashing import sha256_file
from edgepack.runtime.manifest import load_manifest
from edgepack.web.compress import COMPRESSIBLE_SUFFIXES, brotli_bytes, compress_tree, worth_keeping
from edgepack.web.headers import HOST_FILES, write_host_files
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
WHEEL_DIST = "edgepack_runtime"
# Not in Pyodide without extra downloads: a runtime module importing one of these at import time
# stays out of the wheel (a lazy import inside a function does not: that function is just unusable).
NATIVE_IMPORTS = ("numpy", "onnxruntime")
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

def _imports(path: Path) -> set[str]:
    """Absolute module names ``path`` imports when it is imported: module level (inside ``try``/``if``
    and class bodies too), not inside functions -- a lazy import only fails if that function is called."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    todo = list(tree.body)
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


def runtime_wheel_modules(package_root: Path | None = None) -> dict[str, Path]:
    """module name -> source file for the wheel: edgepack/__init__, errors and every runtime module
    that imports neither numpy nor onnxruntime at import time, nor (transitively) a module left out."""
    root = Path(package_root) if package_root else Path(edgepack.__file__).resolve().parent
    candidates = {"edgepack": root / "__init__.py", "edgepack.errors": root / "errors.py"}
    for path in sorted((root / "runtime").rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        if "__pycache__" in rel.parts:
            continue
        parts = ["edgepack", *rel.parts]
        if parts[-1] == "__init__":
            parts.pop()
        candidates[".".join(parts)] = path
    imports = {name: _imports(path) for name, path in candidates.items()}
    keep = {name for name, deps in imports.items()
            if not any(d == n or d.startswith(n + ".") for d in deps for n in NATIVE_IMPORTS)}
    changed = True
    while changed:  # drop modules that import a dropped edgepack module, until nothing changes
        changed = False
        for name in sorted(keep):
            missing = [d for d in imports[name] if d.startswith("edgepack") and d in candidates and d not in keep]
            if missing:
                keep.discard(name)
                changed = True
    for required in ("edgepack.runtime.tokenizer", "edgepack.runtime.manifest", "edgepack.runtime.artifacts"):
        if required not in keep:
            raise TargetError(f"{candidates.get(required, root / 'runtime')}: {required} needs numpy/onnxruntime "
                              "now; the Pyodide wheel cannot include it")
    return {name: candidates[name] for name in sorted(keep)}


def _arcname(module: str, path: Path) -> str:
    parts = module.split(".")
    return "/".join(parts) + ("/__init__.py" if path.name == "__init__.py" else ".py")


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_name(version: str | None = None) -> str:
    return f"{WHEEL_DIST}-{version or edgepack.__version__}-py3-none-any.whl"


def build_wheel_stdlib(out_dir: Path, package_root: Path | None = None) -> Path:
    """The runtime wheel, made with zipfile; byte-stable (fixed timestamps, sorted entries)."""
    version = edgepack.__version__
    dist_info = f"{WHEEL_DIST}-{version}.dist-info"
    entries = [(_arcname(m, p), p.read_bytes()) for m, p in runtime_wheel_modules(package_root).items()]
    metadata = "\n".join([
        "Metadata-Version: 2.1",
        "Name: edgepack-runtime",
        f"Version: {version}",
        "Summary: edgepack's pure-Python runtime (tokenizer, manifest) for Pyodide; the model runs in onnxruntime-web",
        "License: MIT",
        "Requires-Python: >=3.10",
        "",
    ])
    wheel_meta = "Wheel-Version: 1.0\nGenerator: edgepack.web.pyodide (zipfile)\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries += [(f"{dist_info}/METADATA", metadata.encode()), (f"{dist_info}/WHEEL", wheel_meta.encode()),
                (f"{dist_info}/top_level.txt", b"edgepack\n")]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    record += f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode()))
    path = Path(out_dir) / wheel_name(version)
    atomic_write_bytes(path, zip_bytes((name, data, 0o644) for name, data in entries))
    return path


def pyodide_build_available() -> tuple[str | None, str]:
    """(path of the ``pyodide`` CLI or None, why / why not)."""
    if sys.version_info < (3, 12):
        return None, f"pyodide-build needs Python >= 3.12 (this is {sys.version_info.major}.{sys.version_info.minor})"
    cli = shutil.which("pyodide")
    if cli is None:
        return None, "pyodide-build is not installed (pip install pyodide-build)"
    return cli, f"pyodide-build at {cli}"


def build_wheel_pyodide_build(cli: str, out_dir: Path, package_root: Path | None = None) -> Path:
    """The same module set, built by ``pyodide build`` from a staged source tree (needs its
    cross-build environment, which it downloads on first use)."""
    modules = runtime_wheel_modules(package_root)
    with tempfile.TemporaryDirectory(prefix="edgepack-pyodide-build-") as tmp:
        src = Path(tmp) / "src"
        for module, path in modules.items():
            dest = src / _arcname(module, path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        packages = sorted(m for m, p in modules.items() if p.name == "__init__.py")
        (src / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
            f'[project]\nname = "edgepack-runtime"\nversion = "{edgepack.__version__}"\nrequires-python = ">=3.10"\n'
            f"[tool.setuptools]\npackages = {json.dumps(packages)}\n", encoding="utf-8")
        built = Path(tmp) / "out"
        proc = subprocess.run([cli, "build", str(src), "--outdir", str(built)], capture_output=True, text=True)
        wheels = sorted(built.glob("*-py3-none-any.whl")) if proc.returncode == 0 else []
        if not wheels:
            raise TargetError(f"`pyodide build` failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / wheel_name()
        shutil.copyfile(wheels[0], dest)
    return dest


def build_runtime_wheel(out_dir: str | os.PathLike, builder: str = "auto",
                        package_root: Path | None = None) -> tuple[Path, dict]:
    """Build the wheel; ``builder``: auto (pyodide-build where it runs, else stdlib) | stdlib | pyodide-build.
    Returns (path, {"builder", "reason"}) for the manifest."""
    if builder not in ("auto", "stdlib", "pyodide-build"):
        raise TargetError(f"wheel builder {builder!r} is unknown; use auto, stdlib or pyodide-build")
    out_dir = Path(out_dir)
    cli, why = pyodide_build_available()
    if builder == "pyodide-build" and cli is None:
        raise TargetError(f"cannot build the Pyodide wheel with pyodide-build: {why}; use wheel_builder='stdlib'")
    if builder != "stdlib" and cli is not None:
        try:
            return build_wheel_pyodide_build(cli, out_dir, package_root), {"builder": "pyodide-build", "reason": why}
        except TargetError as exc:
            if builder == "pyodide-build":
                raise
            why = f"pyodide-build failed, fell back to the standard library: {exc}"
    reason = "asked for the standard-library builder" if builder == "stdlib" else why
    return build_wheel_stdlib(out_dir, package_root), {"builder": "stdlib-zipfile", "reason": reason}


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
                         *, wheel_builder: str = "auto", brotli_quality: int = 9) -> PyodideBundle:
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
        wheel, wheel_info = build_runtime_wheel(tmp / WHEEL_PREFIX, wheel_builder)
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
            "wheel": f"{WHEEL_PREFIX}/{wheel.name}",
            "wheel_builder": wheel_info,
            "page_code": PAGE_PY,
            "bundle_layout": BUNDLE_LAYOUT_VERSION,
        }, tools={"pyodide": core.version, "onnxruntime-web": ort.version})
        data["files"] = file_table(tmp)
        write_manifest(tmp, data)
    total = sum(m["bytes"] for r, m in data["files"].items() if not r.endswith((".br", ".gz")))
    return PyodideBundle(out, precision, model_file, core.version, ort.version, f"{WHEEL_PREFIX}/{wheel.name}",
                         wheel_info, total + (out / MANIFEST_NAME).stat().st_size)


def build_target(project, build_dir, out_dir, progress, precision: str | None = None, **options) -> dict:
    """Adapter for ``edgepack.build.TARGETS['pyodide']``: the page into ``<out_dir>/<name>-pyodide/``."""
    unknown = sorted(set(options) - {"wheel_builder", "brotli_quality"})
    if unknown:
        raise TargetError(f"option(s) {', '.join(unknown)} do not apply to the pyodide target "
                          "(it takes --precision; --python is for --target rpi)")
    directory = Path(out_dir) / f"{project.name}-pyodide"
    with progress.stage(f"building the Pyodide page {directory}"):
        result = build_pyodide_bundle(build_dir, directory, precision, **options)
    progress.say(f"  {result.precision} model, Pyodide {result.pyodide}, onnxruntime-web {result.onnxruntime_web}, "
                 f"wheel by {result.wheel_builder['builder']} ({result.wheel_builder['reason']}), "
                 f"{result.total_bytes / 1e6:.1f} MB on disk")
    return {"directory": str(result.directory), "precision": result.precision, "model_file": result.model_file,
            "pyodide": result.pyodide, "onnxruntime_web": result.onnxruntime_web, "wheel": result.wheel,
            "wheel_builder": result.wheel_builder["builder"], "total_bytes": result.total_bytes}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Pyodide target helpers.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("vendor", help="copy the pinned Pyodide core into web/pyodide_npm/vendor/ (after npm ci)")
    wheel = sub.add_parser("wheel", help="build edgepack's runtime wheel for Pyodide")
    wheel.add_argument("out_dir", type=Path)
    wheel.add_argument("--builder", default="auto", choices=("auto", "stdlib", "pyodide-build"))
    args = parser.parse_args(argv)
    try:
        if args.command == "vendor":
            for name, path in vendor_pyodide().files.items():
                print(f"{path}  ({path.stat().st_size:,} bytes)")
        else:
            path, info = build_runtime_wheel(args.out_dir, args.builder)
            print(f"{path}  (built by {info['builder']}: {info['reason']})")
    except TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
