"""Where the onnxruntime-web files come from, with and without Node.

Decision (issue 6): onnxruntime-web is pinned by ``web/package.json`` + ``web/package-lock.json``
(integrity hashes) and installed with ``npm ci`` in a source checkout. A pip user must not need
Node, so exactly the three files the bundle uses are *vendored*:

    python -m edgepack.web.vendor        # after `npm ci` in web/; run before building the wheel

copies them from ``web/node_modules/onnxruntime-web/dist/`` into ``web/vendor/`` (git-ignored,
shipped as ``edgepack.web`` package data, see pyproject ``[tool.setuptools.package-data]``),
together with brotli-11 copies (compressing the 14 MB wasm at quality 11 takes ~20 s; doing it
once here keeps every bundle build fast) and ``onnxruntime-web.json`` recording the version and
sha256 of each file. :func:`ort_files` reads ``web/vendor/`` first and falls back to
``web/node_modules/``; either way the version must equal the one pinned in package-lock.json and
vendored files must match their recorded hashes, so a stale or edited copy is refused by name.

Only the wasm-only entry is used: ``ort.wasm.min.mjs`` loads ``ort-wasm-simd-threaded.mjs`` and
``.wasm`` (14 MB) at run time; the 28 MB JSEP (WebGPU) build is never copied.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from edgepack.atomic import atomic_publish
from edgepack.errors import TargetError
from edgepack.runtime.hashing import sha256_file
from edgepack.web.compress import brotli_bytes, worth_keeping

PACKAGE = "onnxruntime-web"
# The wasm-only ES-module entry and the two files it loads. Nothing else is shipped.
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
WEB_DIR = Path(__file__).resolve().parent
VENDOR_DIR = WEB_DIR / "vendor"
NODE_DIST = WEB_DIR / "node_modules" / PACKAGE / "dist"
STAMP_NAME = f"{PACKAGE}.json"


@dataclass(frozen=True)
class OrtFiles:
    """The onnxruntime-web files a bundle needs, and where they were found."""

    version: str
    origin: str  # "vendor" or "node_modules"
    files: dict[str, Path]  # name -> path
    # name -> ready-made brotli copy (vendor only), so builds need not recompress the wasm
    brotli: dict[str, Path] = field(default_factory=dict)


def pinned_version(web_dir: Path = WEB_DIR) -> str:
    """The onnxruntime-web version pinned by package-lock.json (the source of truth)."""
    lock = web_dir / "package-lock.json"
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
        return data["packages"][f"node_modules/{PACKAGE}"]["version"]
    except FileNotFoundError:
        raise TargetError(f"{lock}: missing; edgepack.web is incompletely installed (reinstall edgepack)") from None
    except (KeyError, TypeError, json.JSONDecodeError):
        raise TargetError(f"{lock}: no packages['node_modules/{PACKAGE}'].version; run `npm install` in {web_dir}") from None


def _from_vendor(vendor_dir: Path, version: str) -> OrtFiles | None:
    stamp_path = vendor_dir / STAMP_NAME
    if not stamp_path.is_file():
        return None
    stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    if stamp.get("version") != version:
        raise TargetError(
            f"{stamp_path}: vendored {PACKAGE} {stamp.get('version')} but package-lock.json pins {version}; "
            "run `npm ci` in web/ then `python -m edgepack.web.vendor`"
        )
    files, compressed = {}, {}
    for name in ORT_FILES:
        path = vendor_dir / name
        meta = stamp.get("files", {}).get(name)
        if not path.is_file() or meta is None or sha256_file(path) != meta["sha256"]:
            raise TargetError(
                f"{path}: missing or does not match {stamp_path}; re-run `python -m edgepack.web.vendor` "
                "(or reinstall edgepack)"
            )
        files[name] = path
        br = vendor_dir / (name + ".br")
        if br.is_file() and meta.get("br_sha256") == sha256_file(br):
            compressed[name] = br
    return OrtFiles(version=version, origin="vendor", files=files, brotli=compressed)


def _from_node_modules(dist: Path, version: str) -> OrtFiles | None:
    pkg = dist.parent / "package.json"
    if not pkg.is_file():
        return None
    installed = json.loads(pkg.read_text(encoding="utf-8")).get("version")
    if installed != version:
        raise TargetError(
            f"{pkg}: {PACKAGE} {installed} is installed but package-lock.json pins {version}; run `npm ci` in {dist.parents[2]}"
        )
    missing = [name for name in ORT_FILES if not (dist / name).is_file()]
    if missing:
        raise TargetError(f"{dist}: missing {', '.join(missing)}; run `npm ci` in {dist.parents[2]}")
    return OrtFiles(version=version, origin="node_modules", files={n: dist / n for n in ORT_FILES})


def ort_files(web_dir: Path = WEB_DIR) -> OrtFiles:
    """Locate the pinned onnxruntime-web files: ``vendor/`` first, then ``node_modules/``."""
    version = pinned_version(web_dir)
    found = _from_vendor(web_dir / "vendor", version) or _from_node_modules(
        web_dir / "node_modules" / PACKAGE / "dist", version
    )
    if found is None:
        raise TargetError(
            f"no {PACKAGE} files in {web_dir / 'vendor'} or {web_dir / 'node_modules'}: "
            f"in a source checkout run `npm ci` in {web_dir} (and `python -m edgepack.web.vendor` before "
            "building a wheel); a pip-installed edgepack ships them -- reinstall it"
        )
    return found


def vendor_ort(dest: Path | None = None, web_dir: Path = WEB_DIR, brotli_quality: int = 11) -> OrtFiles:
    """Copy the pinned files from node_modules into ``dest`` (default web/vendor/), atomically."""
    version = pinned_version(web_dir)
    src = _from_node_modules(web_dir / "node_modules" / PACKAGE / "dist", version)
    if src is None:
        raise TargetError(f"{web_dir / 'node_modules'}: {PACKAGE} is not installed; run `npm ci` in {web_dir}")
    dest = Path(dest) if dest is not None else web_dir / "vendor"
    with atomic_publish(dest) as tmp:
        os.chmod(tmp, 0o755)  # package data, whatever the umask
        stamp = {"package": PACKAGE, "version": version, "files": {}}
        for name, path in src.files.items():
            shutil.copyfile(path, tmp / name)
            data = path.read_bytes()
            meta = {"sha256": sha256_file(path), "bytes": len(data)}
            br = brotli_bytes(data, quality=brotli_quality)
            if worth_keeping(len(data), len(br)):
                (tmp / (name + ".br")).write_bytes(br)
                meta["br_sha256"] = sha256_file(tmp / (name + ".br"))
            stamp["files"][name] = meta
        (tmp / STAMP_NAME).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        # Keep a .gitignore inside so the 14 MB wasm never lands in git by accident.
        (tmp / ".gitignore").write_text("*\n", encoding="utf-8")
    return _from_vendor(dest, version)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=None, help="target directory (default: web/vendor/)")
    args = parser.parse_args(argv)
    try:
        files = vendor_ort(args.dest)
    except TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for name, path in files.files.items():
        print(f"{path}  ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
