"""`edgepack inspect`: what an artifact holds -- manifest, op types, sizes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from edgepack.errors import ArtifactError
from edgepack.runtime.manifest import load_manifest


def onnx_summary(path: Path) -> dict[str, Any]:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ArtifactError(f"{path}: not a readable ONNX model ({exc})") from None
    ops = Counter(n.op_type for n in model.graph.node)
    init_bytes: Counter[str] = Counter()
    for t in model.graph.initializer:
        init_bytes[onnx.TensorProto.DataType.Name(t.data_type).lower()] += len(t.raw_data) or _field_bytes(t)
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
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


def inspect_artifact(artifact: str | Path, verify: bool = True) -> dict[str, Any]:
    path = Path(artifact)
    if path.is_file() and path.suffix == ".onnx":
        return {"models": [onnx_summary(path)]}
    manifest = load_manifest(path, verify=False)
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
        lines.append("files:")
        for rel, meta in report["files"].items():
            lines.append(f"  {_size(meta['bytes']):>9}  {meta['sha256'][:12]}  {rel}")
    for model in report["models"]:
        lines.append(f"{model['file']}: {_size(model['bytes'])}, {model['nodes']} nodes, opset {model['opset']}")
        lines.append("  ops: " + ", ".join(f"{k}×{v}" for k, v in model["op_types"].items()))
        lines.append("  weights: " + ", ".join(f"{k} {_size(v)}" for k, v in model["initializer_bytes_by_dtype"].items()))
    return "\n".join(lines)
