"""`edgepack inspect`: what an artifact holds -- manifest, op types, sizes.

Artifacts: a build directory or web bundle (a manifest.json), a `.onnx` file, and a Raspberry Pi
package -- its `.tar.gz`, read in one streaming pass without unpacking it anywhere, or its unpacked
directory. A package is held to the member rules install.sh applies on the device (see
`edgepack.edge.deploy.package_rules`): a hostile archive is an ArtifactError naming the member;
checksum problems (SHA256SUMS, the manifest's sha256) are reported under "integrity".
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any

from edgepack.errors import ArtifactError
from edgepack.runtime.manifest import load_manifest


MODEL_DIR = "model"
ONNX_SUMMARY_LIMIT = 2 << 30  # protobuf cannot parse a larger ONNX file anyway
TEXT_LIMIT = 64 << 20  # manifest.json (golden vectors inside), package.env, requirements.txt


def onnx_summary(path: Path, data: bytes | None = None, name: str | None = None) -> dict[str, Any]:
    """Op types and weight sizes of an ONNX file (``data``: its bytes, read from an archive)."""
    import onnx

    try:
        if data is None:
            _require_regular(path)
            model = onnx.load(str(path), load_external_data=False)
        else:
            model = onnx.load_model_from_string(data)
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(f"{path}: not a readable ONNX model ({exc}); rebuild the artifact") from None
    ops = Counter(n.op_type for n in model.graph.node)
    init_bytes: Counter[str] = Counter()
    for t in model.graph.initializer:
        init_bytes[onnx.TensorProto.DataType.Name(t.data_type).lower()] += len(t.raw_data) or _field_bytes(t)
    return {
        "file": name or path.name,
        "bytes": len(data) if data is not None else path.stat().st_size,
        "opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "nodes": sum(ops.values()),
        "op_types": dict(sorted(ops.items())),
        "initializer_bytes_by_dtype": dict(sorted(init_bytes.items())),
        "inputs": [i.name for i in model.graph.input],
        "outputs": [o.name for o in model.graph.output],
    }


def _field_bytes(t) -> int:
    return 4 * (len(t.float_data) + len(t.int32_data)) + 8 * (len(t.int64_data) + len(t.double_data))


def _require_regular(path: Path) -> os.stat_result:
    try:
        st = path.stat()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot be read ({exc.strerror}); give a build directory, web bundle, "
                            "package (.tar.gz or unpacked) or .onnx file") from None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise ArtifactError(f"{path}: not a regular file or directory; give a build directory, web bundle, "
                            "package (.tar.gz or unpacked) or .onnx file")
    return st


def _check_shape(data: Any, where: str) -> dict[str, Any]:
    """The manifest keys the report reads, with their types: a hand-edited or hostile manifest is
    an error naming the key, not a KeyError later."""
    def bad(key: str, want: str):
        raise ArtifactError(f"{where}: manifest key {key!r} must be {want}; rebuild the artifact")

    if not isinstance(data, dict):
        bad("(top level)", "an object")
    model = data.get("model")
    if not isinstance(model, dict):
        bad("model", "an object")
    for key in ("name", "version", "task"):
        if not isinstance(model.get(key), str):
            bad(f"model.{key}", "a string")
    for key in ("inputs", "outputs"):
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) and {"name", "dtype", "shape"} <= i.keys()
                                                  for i in items):
            bad(key, "a list of {name, dtype, shape}")
    for key in ("precisions", "tools"):
        if not isinstance(data.get(key, {}), dict):
            bad(key, "an object")
    for precision, entry in data.get("precisions", {}).items():
        file = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(file, str) or file.startswith("/") or not file or ".." in file.split("/"):
            bad(f"precisions.{precision}.file", "a file name inside the artifact")
    files = data.get("files", {})
    if not isinstance(files, dict) or not all(
        isinstance(m, dict) and isinstance(m.get("sha256"), str) and isinstance(m.get("bytes"), int)
        for m in files.values()
    ):
        bad("files", "an object of {sha256, bytes}")
    if not isinstance(data.get("golden") or [], list):
        bad("golden", "a list")
    return data


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:  # a regular file (checked): reading cannot block
        return f.read(2) == b"\x1f\x8b"


def inspect_artifact(artifact: str | Path, verify: bool = True) -> dict[str, Any]:
    path = Path(artifact)
    st = _require_regular(path)
    if stat.S_ISREG(st.st_mode):
        if path.suffix == ".onnx":
            return {"models": [onnx_summary(path)]}
        if path.name.endswith((".tar.gz", ".tgz")) or _is_gzip(path):
            return inspect_package(path, verify=verify)
        if path.suffix == ".zip":
            return inspect_bundle_zip(path, verify=verify)
        if path.name != "manifest.json":
            raise ArtifactError(f"{path}: not an artifact edgepack can inspect; give a build directory, web bundle, "
                                "package (.tar.gz or unpacked) or .onnx file")
    elif (path / "SHA256SUMS").exists() and (path / MODEL_DIR / "manifest.json").exists():
        return inspect_package(path, verify=verify)
    try:
        manifest = load_manifest(path, verify=False)
    except RecursionError:  # load_manifest's json.loads has no depth limit (yet)
        raise ArtifactError(f"{path}: manifest.json is nested too deeply to be a manifest; rebuild the artifact") from None
    _check_shape(manifest.data, str(manifest.root / "manifest.json"))
    integrity = "not checked"
    if verify:
        try:
            manifest.verify_files()
            integrity = "ok"
        except ArtifactError as exc:
            integrity = str(exc)
    models = [onnx_summary(manifest.root / entry["file"]) for entry in manifest.precisions.values()
              if (manifest.root / entry["file"]).is_file()]
    data = manifest.data
    return {
        "artifact": str(manifest.root),
        "integrity": integrity,
        "manifest": {k: v for k, v in data.items() if k not in ("golden", "files")},
        "files": data.get("files", {}),
        "golden_vectors": len(data.get("golden", [])),
        "models": models,
    }


def inspect_package(path: str | Path, verify: bool = True) -> dict[str, Any]:
    """A Raspberry Pi package, as its .tar.gz or unpacked: manifest, integrity (SHA256SUMS and the
    manifest's sha256), the model's op types and sizes, the wheelhouse, total size."""
    from edgepack.edge.deploy import package_rules

    rules = package_rules()
    path = Path(path)

    def keep(rel: str, size: int) -> bool:
        parts = rel.split("/")
        if parts[0] == MODEL_DIR and rel.endswith(".onnx"):
            return size <= ONNX_SUMMARY_LIMIT
        wanted = rel in (f"{MODEL_DIR}/manifest.json", "package.env") or (
            parts[0] == "wheelhouse" and len(parts) == 3 and parts[2] == "requirements.txt")
        return wanted and size <= TEXT_LIMIT

    try:
        if path.is_dir():
            scan = rules.scan_tree(path, keep=keep, hash_files=verify)
        else:
            scan = rules.scan_archive(path, keep=keep, hash_files=verify)
        problems = rules.check_sums(scan) if verify else []
    except rules.Refused as exc:
        raise ArtifactError(str(exc)) from None
    where = f"{path}: {scan.top}/"
    raw = scan.kept.get(f"{MODEL_DIR}/manifest.json")
    if raw is None:
        why = "larger than %d bytes" % TEXT_LIMIT if f"{MODEL_DIR}/manifest.json" in scan.files else "missing"
        raise ArtifactError(f"{where}{MODEL_DIR}/manifest.json {why}: not an edgepack Raspberry Pi package")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArtifactError(f"{where}{MODEL_DIR}/manifest.json is not valid JSON ({exc}); rebuild the package") from None
    _check_shape(data, f"{where}{MODEL_DIR}/manifest.json")
    if verify:
        for rel, meta in sorted(data.get("files", {}).items()):
            found = scan.files.get(f"{MODEL_DIR}/{rel}")
            if found is None:
                problems.append(f"{MODEL_DIR}/{rel}: listed in the manifest but not in the package")
            elif found[1] != meta["sha256"]:
                problems.append(f"{MODEL_DIR}/{rel}: sha256 does not match the manifest")
    models = []
    for rel in sorted(scan.kept):
        if rel.endswith(".onnx"):
            models.append(onnx_summary(Path(f"{where}{rel}"), data=scan.kept[rel], name=rel))
    wheelhouses: dict[str, Any] = {}
    for rel, (size, _digest) in sorted(scan.files.items()):
        parts = rel.split("/")
        if parts[0] == "wheelhouse" and len(parts) == 3:
            python = parts[1][2] + "." + parts[1][3:] if parts[1][:3] == "py3" else parts[1]
            house = wheelhouses.setdefault(python, {"wheels": {}, "bytes": 0, "requirements": []})
            house["bytes"] += size
            if parts[2].endswith(".whl"):
                house["wheels"][parts[2]] = size
            elif parts[2] == "requirements.txt":
                house["requirements"] = scan.kept.get(rel, b"").decode("utf-8", "replace").split()
    env = {}
    for line in scan.kept.get("package.env", b"").decode("utf-8", "replace").splitlines():
        key, eq, value = line.partition("=")
        if eq:
            env[key.strip()] = value.strip().strip("'\"")
    return {
        "artifact": str(path),
        "kind": "rpi-package",
        "integrity": ("ok" if not problems else "\n".join(problems)) if verify else "not checked",
        "manifest": {k: v for k, v in data.items() if k not in ("golden", "files")},
        "files": data.get("files", {}),
        "golden_vectors": len(data.get("golden") or []),
        "models": models,
        "package": {
            "top": scan.top,
            "members": len(scan.files) + len(scan.dirs),
            "archive_bytes": scan.archive_bytes,
            "unpacked_bytes": sum(size for size, _ in scan.files.values()),
            "env": env,
            "wheelhouse": wheelhouses,
        },
    }


def inspect_bundle_zip(path: str | Path, verify: bool = True) -> dict[str, Any]:
    """A web bundle's .zip (files under ``<name>/``), read in place: its members are held to the
    package rules (regular files inside one top directory, no duplicates, bounded sizes)."""
    import zipfile

    from edgepack.edge.deploy import package_rules

    rules = package_rules()
    path = Path(path)
    try:
        with rules.open_regular(path) as raw, zipfile.ZipFile(raw) as zf:
            scan = rules.Scan(str(path), hint="rebuild the bundle (`edgepack build PROJECT --target wasm`)")
            for info in zf.infolist():
                mode = info.external_attr >> 16
                kind = ("dir" if info.is_dir() else "file" if not mode or stat.S_ISREG(mode)
                        else "symbolic link" if stat.S_ISLNK(mode) else "special member")
                scan.add(info.filename, kind, info.file_size)
            if scan.top is None:
                scan.refuse("the archive is empty")

            def read(rel: str, limit: int) -> bytes | None:
                if rel not in scan.files or scan.files[rel][0] > limit:
                    return None
                with zf.open(f"{scan.top}/{rel}") as f:  # reads at most the declared size
                    return f.read()

            where = f"{path}: {scan.top}/manifest.json"
            raw_manifest = read("manifest.json", TEXT_LIMIT)
            if raw_manifest is None:
                raise ArtifactError(f"{where} missing or too large: not a web bundle's .zip")
            try:
                data = _check_shape(json.loads(raw_manifest.decode("utf-8")), where)
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise ArtifactError(f"{where} is not valid JSON ({exc}); rebuild the bundle") from None
            problems = []
            for rel, meta in sorted(data.get("files", {}).items()) if verify else ():
                if rel not in scan.files:
                    problems.append(f"{rel}: listed in the manifest but not in the .zip")
                    continue
                h = hashlib.sha256()
                with zf.open(f"{scan.top}/{rel}") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                if h.hexdigest() != meta["sha256"]:
                    problems.append(f"{rel}: sha256 does not match the manifest")
            models = []
            for entry in data.get("precisions", {}).values():
                blob = read(entry["file"], ONNX_SUMMARY_LIMIT)
                if blob is not None:
                    models.append(onnx_summary(Path(f"{path}: {scan.top}/{entry['file']}"), data=blob, name=entry["file"]))
    except rules.Refused as exc:
        raise ArtifactError(str(exc)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise ArtifactError(f"{path}: not a readable .zip ({exc}); copy or build the bundle again") from None
    return {
        "artifact": str(path),
        "kind": "web-bundle-zip",
        "integrity": ("ok" if not problems else "\n".join(problems)) if verify else "not checked",
        "manifest": {k: v for k, v in data.items() if k not in ("golden", "files")},
        "files": data.get("files", {}),
        "golden_vectors": len(data.get("golden") or []),
        "models": models,
    }


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def format_report(report: dict[str, Any]) -> str:
    lines = []
    if "manifest" in report:
        m = report["manifest"]
        model = m["model"]
        lines.append(f"{model['name']} {model['version']}  task={model['task']}  labels={model.get('labels')}")
        lines.append(f"artifact: {report['artifact']}")
        lines.append(f"integrity: {report['integrity']}")
        lines.append("inputs:  " + ", ".join(f"{i['name']} {i['dtype']}{i['shape']}" for i in m.get("inputs", [])))
        lines.append("outputs: " + ", ".join(f"{o['name']} {o['dtype']}{o['shape']}" for o in m.get("outputs", [])))
        lines.append(f"precisions: {', '.join(m.get('precisions', {}))} (default {m.get('default_precision')})")
        lines.append(f"golden vectors: {report['golden_vectors']}")
        lines.append("tools: " + ", ".join(f"{k} {v}" for k, v in m.get("tools", {}).items()))
        pkg = report.get("package")
        if pkg:
            archive = f"{_size(pkg['archive_bytes'])} archive, " if pkg["archive_bytes"] is not None else ""
            lines.append(f"package: {pkg['top']}/  {archive}{_size(pkg['unpacked_bytes'])} unpacked, "
                         f"{pkg['members']} members")
            for py, house in pkg["wheelhouse"].items():
                what = "wheels shared by every Python (any)" if py == "any" else f"wheelhouse for Python {py}"
                lines.append(f"  {what}: {_size(house['bytes'])}, " + ", ".join(house["requirements"]))
        lines.append("files:")
        for rel, meta in report["files"].items():
            lines.append(f"  {_size(meta['bytes']):>9}  {meta['sha256'][:12]}  {rel}")
    for model in report["models"]:
        lines.append(f"{model['file']}: {_size(model['bytes'])}, {model['nodes']} nodes, opset {model['opset']}")
        lines.append("  ops: " + ", ".join(f"{k}×{v}" for k, v in model["op_types"].items()))
        lines.append("  weights: " + ", ".join(f"{k} {_size(v)}" for k, v in model["initializer_bytes_by_dtype"].items()))
    return "\n".join(lines)
