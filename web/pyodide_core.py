"""The Pyodide core the Pyodide target self-hosts: the five files a page that loads no Pyodide
packages needs, from the npm package pinned in web/pyodide_npm/ (or its vendored, hash-stamped copy
for pip installs: ``python -m edgepack.web.pyodide vendor``)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from edgepack.atomic import atomic_publish
from edgepack.errors import TargetError
from edgepack.runtime.hashing import sha256_file
from edgepack.web.compress import COMPRESSIBLE_SUFFIXES, brotli_bytes, worth_keeping
from edgepack.web.vendor import WEB_DIR

NPM_DIR = WEB_DIR / "pyodide_npm"
PACKAGE = "pyodide"

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
