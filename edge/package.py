"""`edgepack build PROJECT --target rpi`: the offline Raspberry Pi package.

``dist/<name>-<version>-linux-aarch64.tar.gz`` unpacks to one directory::

    install.sh uninstall.sh         install/upgrade with rollback; removal
    edgepack.service                systemd unit template (install.sh fills it in)
    package.env                     name, version, precision, port -- read by the scripts
    README.md                       for the person at the device
    model/                          model.<precision>.onnx, tokenizer.json, manifest.json (narrowed
                                    to that precision; sha256 of every file, golden vectors)
    bin/<name>                      device CLI: `<name> predict|embed "text"`, `<name> self-test`
    bench.sh, bench/spec.json       the benchmark on the device: rows like `edgepack bench --target
                                    aarch64` (same worker, texts, batch sizes, budgets), measured natively
    wheelhouse/py311/               aarch64 wheels + requirements.txt, for `pip --no-index`; one
                                    directory per device Python (default: wheelhouse.DEFAULT_PYTHONS;
                                    --python adds others). The runtime + service + bench worker is one
                                    of them: edgepack_runtime-<v>-py3-none-any.whl
                                    (edgepack.runtime_wheel), the same wheel Pyodide and emulation use
    wheelhouse/any/                 only with two or more Pythons: the wheels they would all carry
                                    byte for byte (pure-Python and abi3 wheels, the runtime wheel),
                                    stored once; install.sh gives pip both directories
    SHA256SUMS                      every file above; install.sh checks it before anything else
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgepack.assemble import file_table, narrow_manifest, write_manifest
from edgepack.atomic import atomic_publish
from edgepack.edge import wheelhouse
from edgepack.edge import DEFAULT_PORT
from edgepack.errors import ProjectError, TargetError
from edgepack.quantize.decision import for_target
from edgepack.runtime.artifacts import MANIFEST_NAME
from edgepack.runtime.hashing import sha256_file
from edgepack.runtime.manifest import load_manifest
from edgepack.runtime_wheel import DIST as RUNTIME_DIST, runtime_wheel

TEMPLATES = Path(__file__).resolve().parent / "templates"
# 3: wheels shared by several Pythons live once in wheelhouse/any/ (2: every Python's directory
# held all its wheels; 1: source trees under runtime/ + a .pth)
LAYOUT_VERSION = 3
SHARED_DIR = "any"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass
class RpiPackage:
    path: Path
    bytes: int
    unpacked_bytes: int
    precision: str
    pythons: list[str]
    onnxruntime: str
    sizes: dict  # unpacked bytes per part, as recorded in the manifest (see _part_sizes)


def _pythons(python: str | list[str] | None) -> list[str]:
    if python is None:
        return list(wheelhouse.DEFAULT_PYTHONS)
    if python in ("both", "all"):
        return list(wheelhouse.DEVICE_PYTHONS)
    chosen = [python] if isinstance(python, str) else list(python)
    return list(dict.fromkeys(wheelhouse.check_python(p) for p in chosen))


def _py_dir(python: str) -> str:
    return "py" + python.replace(".", "")


def _split_shared(houses: dict) -> tuple[dict[str, list[tuple[Path, dict]]], list[tuple[Path, dict]]]:
    """Each Python's own wheels, and the wheels two or more of them would carry byte for byte
    (same file name and sha256: pure-Python and abi3 wheels), which are stored once."""
    count: dict[tuple[str, str], int] = {}
    for house in houses.values():
        for w in house.wheels.values():
            count[(w["file"], w["sha256"])] = count.get((w["file"], w["sha256"]), 0) + 1
    own: dict[str, list] = {}
    shared: dict[str, tuple[Path, dict]] = {}
    for py, house in houses.items():
        own[py] = []
        for w in house.wheels.values():
            if count[(w["file"], w["sha256"])] > 1:
                shared.setdefault(w["file"], (house.path, w))
            else:
                own[py].append((house.path, w))
    return own, [shared[f] for f in sorted(shared)]


def _copy_wheels(dest: Path, python: str, wheels: list[tuple[Path, dict]]) -> None:
    """Copy ``wheels`` (source directory, index entry) into ``dest`` with an index of exactly them."""
    dest.mkdir(parents=True)
    index = {}
    for src, w in wheels:
        shutil.copyfile(src / w["file"], dest / w["file"])
        index[wheelhouse._norm(w["file"].split("-")[0])] = w
    wheelhouse.write_index(dest, python, index)


def _part_sizes(root: Path, model_files: dict, runtime: Path) -> dict:
    """Unpacked bytes per part: the model (its files, not the manifest), each wheelhouse directory
    (less the runtime wheel), the runtime wheel, and the scripts (install/uninstall/bench, unit,
    README, device CLI, bench spec, package.env). Not counted: model/manifest.json and SHA256SUMS,
    written after this (a few kB)."""
    houses = {d.name: sum(f.stat().st_size for f in d.iterdir() if f.is_file() and f != runtime)
              for d in sorted((root / "wheelhouse").iterdir())}
    counted = {root / "wheelhouse", root / "model"}
    scripts = sum(p.stat().st_size for p in root.rglob("*")
                  if p.is_file() and not any(c in p.parents for c in counted))
    return {"model": sum(f["bytes"] for f in model_files.values()), "wheelhouse": houses,
            "runtime_wheel": runtime.stat().st_size, "scripts": scripts}


def format_sizes(sizes: dict) -> str:
    mb = lambda n: f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"  # noqa: E731
    parts = [f"model {mb(sizes['model'])}"] + [f"wheelhouse/{d} {mb(n)}" for d, n in sizes["wheelhouse"].items()]
    return ", ".join(parts + [f"runtime wheel {mb(sizes['runtime_wheel'])}", f"scripts {mb(sizes['scripts'])}"])


def _configured_pythons(project) -> list[str] | None:
    where = f"{project.path}: [targets] rpi.python"
    value = (project.section("targets").get("rpi") or {}).get("python")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ProjectError(f"{where} must be a non-empty list of versions, e.g. ['3.11'] "
                           f"(choose from {', '.join(wheelhouse.DEVICE_PYTHONS)})")
    unknown = [v for v in value if v not in wheelhouse.DEVICE_PYTHONS]
    if unknown:
        raise ProjectError(f"{where}: no wheelhouse for {', '.join(unknown)}; choose from "
                           f"{', '.join(wheelhouse.DEVICE_PYTHONS)}")
    return list(dict.fromkeys(value))


def _render(template: str, **values: str) -> str:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def build_package(
    build_dir: str | Path,
    out_dir: str | Path,
    precision: str | None = None,
    python: str | list[str] | None = None,
    arch: str = "aarch64",
    onnxruntime_version: str = wheelhouse.ONNXRUNTIME_VERSION,
    port: int = DEFAULT_PORT,
    wheelhouses: dict[str, str | Path] | None = None,
) -> RpiPackage:
    """Write ``<out_dir>/<name>-<version>-linux-aarch64.tar.gz`` from a verified build directory.

    ``wheelhouses``: python -> an existing wheelhouse directory (tests, offline builds); the
    default downloads once into the cache.
    """
    wheelhouse.check_arch(arch)
    manifest = load_manifest(build_dir, verify=True)
    name, version = str(manifest.model.get("name", "")), str(manifest.model.get("version", ""))
    for key, value in (("name", name), ("version", version)):
        if not NAME_RE.match(value):
            raise TargetError(
                f"{manifest.root / MANIFEST_NAME}: model.{key} {value!r} cannot name a device service and its "
                "directories; use lowercase letters, digits, '.', '-', '_' (set it in edgepack.toml)"
            )
    # The quantize stage's typed decision, read (and validated), never re-measured here.
    precision, decision = for_target(manifest, "rpi", precision)
    pythons = _pythons(python)
    houses = {}
    for py in pythons:
        given = (wheelhouses or {}).get(py)
        houses[py] = wheelhouse.load(given) if given else wheelhouse.build(py, onnxruntime_version=onnxruntime_version)
    ort_version = houses[pythons[0]].wheels["onnxruntime"]["version"]

    base = f"{name}-{version}-linux-aarch64"
    final = Path(out_dir).resolve() / f"{base}.tar.gz"
    # Only the archive is published (the tree it is made of is thrown away); reproducible, atomic.
    with atomic_publish(archives=[final], root_name=base) as root:
        # -- model: the chosen precision only, with a manifest narrowed to it
        model_dir = root / "model"
        model_dir.mkdir()
        model_file = manifest.precisions[precision]["file"]
        other_models = {e["file"] for p, e in manifest.precisions.items() if p != precision}
        for rel in manifest.data.get("files", {}):
            if any(rel == f or rel.startswith(f + ".") for f in other_models):
                continue  # another precision (and its external data)
            (model_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(manifest.root / rel, model_dir / rel)
        if not (model_dir / model_file).is_file():
            raise TargetError(f"{manifest.root / model_file}: listed as the {precision} model but not in the manifest's files")
        model_files = file_table(model_dir)

        (root / "bench").mkdir()
        (root / "bench" / "spec.json").write_text(json.dumps(_bench_spec(manifest), indent=1, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")

        # -- wheelhouses: wheelhouse/py3XX/ per Python, wheelhouse/any/ for what they share
        runtime = runtime_wheel()
        own, shared = _split_shared(houses)
        runtime_dir = root / "wheelhouse" / (SHARED_DIR if len(houses) > 1 else _py_dir(pythons[0]))
        if len(houses) > 1:
            _copy_wheels(root / "wheelhouse" / SHARED_DIR, SHARED_DIR, shared)
        for py, house in houses.items():
            dest = root / "wheelhouse" / _py_dir(py)
            _copy_wheels(dest, py, own[py])
            # The service's libraries are listed by exact pin with the rest rather than through the
            # runtime wheel's [service] extra: one line per wheel the device installs.
            reqs = [f"onnxruntime=={house.wheels['onnxruntime']['version']}"] + [
                f"{n}=={house.wheels[n]['version']}" for n in wheelhouse.TOP_LEVEL if n != "onnxruntime"
            ] + [f"{RUNTIME_DIST}=={runtime.version}"]
            (dest / "requirements.txt").write_text("\n".join(reqs) + "\n")
        # The runtime wheel (edgepack.runtime, the service, the bench worker), once.
        shutil.copyfile(runtime.path, runtime_dir / runtime.path.name)

        # -- scripts, unit, README
        values = dict(name=name, version=version, precision=precision, port=str(port), task=manifest.task,
                      pythons=", ".join(pythons), onnxruntime=ort_version, base=base)
        (root / "package.env").write_text(
            f"EDGEPACK_NAME='{name}'\nEDGEPACK_VERSION='{version}'\nEDGEPACK_PRECISION='{precision}'\n"
            f"EDGEPACK_DEFAULT_PORT='{port}'\nEDGEPACK_LAYOUT='{LAYOUT_VERSION}'\n"
        )
        for script in ("install.sh", "uninstall.sh", "bench.sh"):
            shutil.copyfile(TEMPLATES / script, root / script)
            os.chmod(root / script, 0o755)
        shutil.copyfile(TEMPLATES / "edgepack.service", root / "edgepack.service")
        (root / "README.md").write_text(_render("README.md", **values), encoding="utf-8")
        (root / "bin").mkdir()
        (root / "bin" / name).write_text(
            "#!/bin/sh\n# Device CLI: predict / self-test with the installed model.\n"
            'here=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd -P)\n'
            f'EDGEPACK_PROG={name} exec "$here/venv/bin/python" -m edgepack.edge.device_cli --artifact "$here/model" "$@"\n'
        )
        os.chmod(root / "bin" / name, 0o755)

        # -- the manifest, narrowed to the precision, with what each part of the package weighs
        sizes = _part_sizes(root, model_files, runtime_dir / runtime.path.name)
        data = narrow_manifest(manifest.data, precision, "rpi", {
            **(decision or {}), "onnxruntime": ort_version, "pythons": pythons, "layout": LAYOUT_VERSION,
            "sizes": sizes})
        data["files"] = model_files
        write_manifest(model_dir, data)

        # -- checksums of everything; atomic_publish then writes one reproducible tar.gz
        files = sorted(p for p in root.rglob("*") if p.is_file())
        lines = [f"{sha256_file(p)}  {p.relative_to(root).as_posix()}" for p in files]
        (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")
        unpacked = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return RpiPackage(path=final, bytes=final.stat().st_size, unpacked_bytes=unpacked, precision=precision,
                      pythons=pythons, onnxruntime=ort_version, sizes=sizes)


def _bench_spec(manifest) -> dict:
    """What bench.sh measures, fixed now with the bench runner's own rules (texts of exactly N
    tokens from the model's examples, batch sizes, sequence lengths, timing budgets, rounds), so a
    Pi row and an `edgepack bench --target aarch64` row of this model time the same inputs."""
    from edgepack.bench import runner
    from edgepack.runtime.encoder import BatchEncoder

    tokenizer = BatchEncoder.from_manifest(manifest).tokenizer
    max_length = int(manifest.model.get("max_length") or 512)
    batch_sizes = list(runner.BenchOptions().batch_sizes)
    seq = {mode: list(dict.fromkeys(min(s, max_length) for s in runner.DEFAULT_SEQ_LENGTHS[mode]))
           for mode in ("quick", "full")}
    examples = [str(t) for t in manifest.data.get("examples") or []] or [g["text"] for g in manifest.golden]
    texts = {str(s): runner.make_texts(tokenizer, s, max(batch_sizes), examples)
             for s in sorted({s for v in seq.values() for s in v})}
    return {"batch_sizes": batch_sizes, "seq_lengths": seq, "texts": texts, "timing": runner.TIMING,
            "rounds": runner.ROUNDS}


def build_target(project, build_dir, out_dir, progress, precision: str | None = None,
                 pythons: list[str] | None = None, **options) -> dict:
    """Adapter for ``edgepack.build.TARGETS['rpi']``. ``pythons``: the CLI's repeatable --python,
    else ``[targets] rpi = { python = [...] }`` from edgepack.toml, else wheelhouse.DEFAULT_PYTHONS.
    The precision is the one recorded in the manifest for rpi (the quantize stage's decision,
    which already applies ``[targets] rpi precision``) unless --precision overrides it."""
    if not pythons:
        pythons = _configured_pythons(project)
    with progress.step("building the Raspberry Pi (linux-aarch64) package"):
        pkg = build_package(build_dir, out_dir, precision=precision, python=pythons or None, **options)
    progress.say(
        f"  {pkg.path.name}: {pkg.bytes / 1e6:.1f} MB ({pkg.unpacked_bytes / 1e6:.1f} MB unpacked), "
        f"{pkg.precision} model, onnxruntime {pkg.onnxruntime}, Python {', '.join(pkg.pythons)}\n"
        f"  unpacked: {format_sizes(pkg.sizes)}"
    )
    return {
        "package": str(pkg.path),
        "bytes": pkg.bytes,
        "unpacked_bytes": pkg.unpacked_bytes,
        "precision": pkg.precision,
        "pythons": pkg.pythons,
        "onnxruntime": pkg.onnxruntime,
        "sizes": pkg.sizes,
    }
