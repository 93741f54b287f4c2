"""``edgepack-runtime``: the runtime as one pure-Python wheel, built from the toolkit's own sources.

What runs beside a model on a device -- tokenizer, manifest, session, encoder, post-processing
(``edgepack.runtime``), the on-device service and CLI (``edgepack.edge.service`` ...) and the bench
worker -- ships as ``edgepack_runtime-<version>-py3-none-any.whl``. The same file is what the
Raspberry Pi package installs (pip --no-index from its wheelhouse), what the Pyodide page unpacks,
what the emulated aarch64 bench puts on ``sys.path`` (a zip import) and what the tests install.

Import names stay ``edgepack.*``, so code is the same everywhere. The wheel holds only the runtime
parts of the ``edgepack`` namespace; the full ``edgepack`` distribution already contains them, so
install one or the other in a given environment (the wheel is for devices).

The module set is fixed here (:data:`MODULES`, plus every file under ``toolkit/runtime/``) and
checked at build time in a subprocess that imports all of it with torch and onnx made unimportable:
a module that now pulls in another edgepack module, or torch/onnx, fails the build by name. Lazy
(function-level) imports of edgepack modules outside the set are allowed only when listed in
:data:`BUILD_SIDE_ONLY` with the reason a device never reaches them.

Built with the standard library only (zipfile + sha256 RECORD, :func:`edgepack.archive.zip_bytes`):
byte-identical for identical sources (sorted entries, fixed timestamps, fixed modes).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import edgepack
from edgepack.archive import source_date_epoch, zip_bytes
from edgepack.atomic import atomic_write_bytes
from edgepack.errors import EdgepackError, TargetError

DIST = "edgepack-runtime"
WHEEL_DIST = "edgepack_runtime"
# The runtime subpackage ships whole; these modules join it (and nothing else of edgepack).
MODULES = (
    "edgepack", "edgepack.errors",
    "edgepack.edge", "edgepack.edge.service", "edgepack.edge.batcher", "edgepack.edge.openapi",
    "edgepack.edge.device_cli", "edgepack.edge.ondevice_bench", "edgepack.edge.handover",
    "edgepack.edge.service_metrics",
    "edgepack.bench", "edgepack.bench.worker", "edgepack.bench.stats",
)  # fmt: skip
RUNTIME_PACKAGE = "edgepack.runtime"
# Function-level imports the wheel does not satisfy, and why a device never runs them.
BUILD_SIDE_ONLY = {
    "edgepack.bench.breakdown": "the profiled time breakdown (bench worker, enabled only by `edgepack bench`)",
    "edgepack.project": "torch backends of the bench worker (build machine only)",
    "edgepack.export": "torch backends of the bench worker (build machine only)",
    "edgepack.sources": "torch backends of the bench worker (build machine only)",
}
BLOCKED = ("torch", "onnx", "onnxscript", "safetensors", "click", "transformers")
# Requirements of the wheel (the Pi wheelhouse pins exact versions within these ranges, see
# edgepack.edge.wheelhouse.PINS); kept in step with pyproject.toml's dependencies and [edge] extra.
REQUIRES = ("numpy>=1.24", "onnxruntime>=1.20")
SERVICE_REQUIRES = ("starlette>=0.40", "uvicorn>=0.30")
REQUIRES_PYTHON = ">=3.10"

_CLOSURE = """
import importlib, importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is made unimportable while the runtime wheel is checked")
sys.meta_path.insert(0, Block())
failed = {}
for name in MODULES:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"loaded": sorted(m for m in sys.modules if m == "edgepack" or m.startswith("edgepack.")),
                  "failed": failed}))
"""


@dataclass(frozen=True)
class RuntimeWheel:
    path: Path
    version: str
    modules: tuple[str, ...]
    sha256: str


def wheel_name(version: str | None = None) -> str:
    return f"{WHEEL_DIST}-{version or edgepack.__version__}-py3-none-any.whl"


def _origin(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise TargetError(f"{name}: no Python source found for the runtime wheel; reinstall edgepack from source")
    return Path(spec.origin)


def module_sources() -> dict[str, Path]:
    """module name -> source file: :data:`MODULES` plus every module of ``edgepack.runtime``."""
    sources = {name: _origin(name) for name in MODULES}
    runtime_init = _origin(RUNTIME_PACKAGE)
    for path in sorted(runtime_init.parent.rglob("*.py")):
        rel = path.relative_to(runtime_init.parent).with_suffix("")
        if "__pycache__" in rel.parts:
            continue
        parts = [*RUNTIME_PACKAGE.split("."), *rel.parts]
        if parts[-1] == "__init__":
            parts.pop()
        sources[".".join(parts)] = path
    return dict(sorted(sources.items()))


def _lazy_imports(path: Path) -> set[str]:
    """Every absolute edgepack module ``path`` imports anywhere (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {n for n in found if n == "edgepack" or n.startswith("edgepack.")}


def check_closure(sources: dict[str, Path]) -> None:
    """Import every module of the set with torch/onnx unimportable; fail by name on anything outside."""
    allowed = set(sources)
    code = f"BLOCKED = {BLOCKED!r}\nMODULES = {sorted(allowed)!r}\n" + _CLOSURE
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise TargetError(f"checking the runtime wheel's imports failed (exit {proc.returncode}):\n"
                          f"{proc.stderr.strip()[-2000:]}") from None
    problems = [f"{name} does not import without torch/onnx: {why}" for name, why in sorted(result["failed"].items())]
    problems += [f"importing the runtime loads {name}, which is not in the runtime wheel"
                 for name in result["loaded"] if name not in allowed]
    for name, path in sources.items():
        for dep in sorted(_lazy_imports(path)):
            if dep not in allowed and dep not in BUILD_SIDE_ONLY:
                problems.append(f"{path}: imports {dep}, which is neither in the runtime wheel nor listed in "
                                "edgepack.runtime_wheel.BUILD_SIDE_ONLY")
    if problems:
        raise TargetError("the runtime wheel would be incomplete:\n  " + "\n  ".join(problems) +
                          "\nadd the module to edgepack.runtime_wheel.MODULES (it must need only the standard "
                          "library, numpy and onnxruntime) or remove the import")


def _arcname(module: str, path: Path) -> str:
    return "/".join(module.split(".")) + ("/__init__.py" if path.name == "__init__.py" else ".py")


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _metadata(version: str) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {DIST}", f"Version: {version}",
             "Summary: edgepack's on-device runtime: tokenizer, manifest, ONNX Runtime session, service, bench worker",
             "License: MIT", f"Requires-Python: {REQUIRES_PYTHON}"]
    lines += [f"Requires-Dist: {r}" for r in REQUIRES]
    lines += ["Provides-Extra: service"] + [f'Requires-Dist: {r}; extra == "service"' for r in SERVICE_REQUIRES]
    return "\n".join(lines) + "\n"


def wheel_entries(sources: dict[str, Path], version: str) -> list[tuple[str, bytes]]:
    dist_info = f"{WHEEL_DIST}-{version}.dist-info"
    entries = sorted((_arcname(m, p), p.read_bytes()) for m, p in sources.items())
    wheel_meta = "Wheel-Version: 1.0\nGenerator: edgepack.runtime_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries += [(f"{dist_info}/METADATA", _metadata(version).encode()), (f"{dist_info}/WHEEL", wheel_meta.encode()),
                (f"{dist_info}/top_level.txt", b"edgepack\n")]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    entries.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))
    return entries


def build_runtime_wheel(out_dir: str | os.PathLike, check: bool = True) -> RuntimeWheel:
    """Write ``<out_dir>/edgepack_runtime-<version>-py3-none-any.whl`` (atomically) and return it.

    ``check`` imports the module set with torch/onnx blocked first (about a second); only a caller
    that just checked the same sources should skip it.
    """
    version = edgepack.__version__
    sources = module_sources()
    if check:
        check_closure(sources)
    data = zip_bytes((name, payload, 0o644) for name, payload in wheel_entries(sources, version))
    path = Path(out_dir) / wheel_name(version)
    atomic_write_bytes(path, data)
    return RuntimeWheel(path, version, tuple(sources), hashlib.sha256(data).hexdigest())


_CACHED: dict[tuple, RuntimeWheel] = {}


def runtime_wheel(out_dir: str | os.PathLike | None = None) -> RuntimeWheel:
    """The wheel for this edgepack's sources, built once per process per source state (cached in
    ``$EDGEPACK_CACHE/runtime-wheel/<digest>/`` unless ``out_dir`` is given)."""
    sources = module_sources()
    # Everything the wheel's bytes depend on: the sources, the builder itself and the archive
    # timestamp. Processes with another SOURCE_DATE_EPOCH (reproducibility tests, interrupted
    # builds) share the cache, and must not overwrite each other's wheel with different bytes.
    digest = hashlib.sha256(f"{edgepack.__version__}\0{source_date_epoch()}\0".encode())
    for name, path in {**sources, "<builder>": Path(__file__), "<archive>": _origin("edgepack.archive")}.items():
        digest.update(f"{name}\0".encode() + path.read_bytes() + b"\0")
    key = (digest.hexdigest(), str(out_dir))
    hit = _CACHED.get(key)
    if hit is not None and hit.path.is_file():
        return hit
    if out_dir is None:
        cache = Path(os.environ.get("EDGEPACK_CACHE") or Path.home() / ".cache" / "edgepack")
        out_dir = cache / "runtime-wheel" / f"{edgepack.__version__}-{key[0][:16]}"
    _CACHED[key] = build_runtime_wheel(out_dir)
    return _CACHED[key]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m edgepack.runtime_wheel",
                                     description="Build the edgepack-runtime wheel (pure Python, py3-none-any).")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        wheel = build_runtime_wheel(args.out_dir)
    except EdgepackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"{wheel.path}  ({len(wheel.modules)} modules, sha256 {wheel.sha256})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
