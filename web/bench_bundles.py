"""The bundles ``edgepack bench --target wasm`` visits, and what a visit downloads from them.

One bundle per precision: the project's shipped ``dist/<name>-wasm`` when it holds exactly that
precision of this build's model and tokenizer (hash-checked), else one built once under
``dist/bench/wasm-<precision>`` and reused while the build is unchanged.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit


def reusable(directory: Path, precision: str, build_manifest: dict) -> bool:
    """An existing bundle of ``precision`` made from exactly this build's model and tokenizer."""
    from edgepack.runtime.manifest import load_manifest

    try:
        data = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        model = build_manifest["precisions"][precision]["file"]
        tok = build_manifest["tokenizer"]["file"]
        load_manifest(directory, verify=True)  # every file of the bundle still matches its hash
    except Exception:
        return False
    same = all(data["files"].get(f, {}).get("sha256") == build_manifest["files"][f]["sha256"] for f in (model, tok))
    return same and list(data.get("precisions", {})) == [precision] and _current_runtime(directory)


def _current_runtime(directory: Path) -> bool:
    """The bundle carries today's JS runtime: the visit calls page helpers of its edgepack/timing.mjs,
    and a bundle made by an older edgepack may lack one (e.g. predictChunks, which replaced classifyChunks)."""
    from edgepack.web.bundle import RUNTIME_DIR, _runtime_sources

    try:
        return all((directory / rel).read_bytes() == src.read_bytes() for src, rel in _runtime_sources(RUNTIME_DIR))
    except OSError:
        return False


def bundles_for(project, build_dir: Path, build_manifest: dict, progress=None,
                precisions: tuple[str, ...] = ("fp32", "int8")) -> dict[str, Path]:
    """precision -> bundle directory: the project's shipped bundle when it fits, else one under dist/bench/."""
    from edgepack.web.bundle import build_wasm_bundle

    out = {}
    for precision in precisions:
        if precision not in build_manifest.get("precisions", {}):
            continue
        shipped = project.dist_dir / f"{project.name}-wasm"
        cached = project.dist_dir / "bench" / f"wasm-{precision}"
        for candidate in (shipped, cached):
            if reusable(candidate, precision, build_manifest):
                out[precision] = candidate
                break
        else:
            if progress:
                progress.say(f"  building the {precision} bundle {cached}")
            scratch_zip = Path(tempfile.gettempdir()) / f".edgepack-bench-{os.getpid()}.zip"  # the bench needs no zip
            try:
                out[precision] = build_wasm_bundle(build_dir, cached, precision, zip_path=scratch_zip).directory
            finally:
                scratch_zip.unlink(missing_ok=True)
    return out


def transfer_bytes(bundle: Path, urls: list[str]) -> tuple[int, list[str]]:
    """Bytes of the bundle files behind ``urls`` as edgepack serve sends them to a browser accepting
    br and gzip: the .br copy, else the .gz copy (kept where brotli did not pay), else the file."""
    total, files = 0, []
    # by path, not URL: every visit has its own server port
    rels = dict.fromkeys((urlsplit(u).path.lstrip("/") or "index.html") for u in urls)
    for rel in rels:
        if rel.endswith("/"):
            rel += "index.html"
        path = bundle / rel
        if not path.is_file():
            continue
        sent = next((c for c in (path.with_name(path.name + s) for s in (".br", ".gz")) if c.is_file()), path)
        total += sent.stat().st_size
        files.append(rel)
    return total, sorted(files)
