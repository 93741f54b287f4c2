"""The benchmark on the device itself: ``bench.sh`` in an installed package runs this module.

    <prefix>/current/bench.sh [--quick] [--rounds N] [--threads N] [--out FILE]

It produces the rows ``edgepack bench PROJECT --target aarch64`` produces (backend
``aarch64-ort-<precision>``, the same worker, texts, batch sizes, sequence lengths and timing
budgets), measured natively on the Pi: ``"emulated": false``. The texts and budgets were fixed
when the package was built (``bench/spec.json``, written by edgepack.edge.package), so a Pi row
and an emulated or x86 row of the same model measure the same inputs.

Standard library + the shipped runtime and bench worker (edgepack.bench.worker/stats): no torch,
no onnx. The rounds run through the bench's one loop (edgepack.bench.worker.run_rounds): one worker
process per backend per round, as on the build machine, so cold start and peak RSS are the
worker's own.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

BENCH_SPEC = "spec.json"  # in <package>/bench/
FORMAT = "edgepack-device-bench/1"


def backend_for(precision: str, native: bool) -> dict:
    """The row identity shared with edgepack.edge.bench (emulated) and this module (native)."""
    stem = "aarch64" if native else "aarch64-qemu"
    how = "native" if native else "emulated: qemu-aarch64 -cpu cortex-a72, correctness not Pi speed"
    name = f"{stem}-ort-{precision}"
    return {"name": name, "engine": "onnxruntime", "device": "cpu", "precision": precision,
            "label": f"ONNX Runtime {precision} (aarch64, {how})"}


def _device_model() -> str:
    """'Raspberry Pi 4 Model B Rev 1.4' on a Pi (device tree), else the CPU model line."""
    try:
        return Path("/proc/device-tree/model").read_bytes().rstrip(b"\0").decode("utf-8", "replace")
    except OSError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _default_threads(manifest) -> int:
    """The rule of `edgepack bench` (runner._default_threads + sysinfo.default_threads): the
    runtime's choice for this model (1 thread for small models), else the cores, at most 4."""
    from edgepack.runtime.pipeline import default_threads

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return default_threads(manifest.model_path(manifest.default_precision)) or max(1, min(4, cores))


def machine_info() -> dict:
    return {"machine": platform.machine(), "model": _device_model(), "cpus": os.cpu_count(),
            "system": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def run(artifact: Path, spec_file: Path, quick: bool = False, rounds: int | None = None,
        threads: int | None = None, precision: str | None = None, progress=print) -> dict:
    from edgepack.bench.worker import run_rounds
    from edgepack.errors import TargetError
    from edgepack.runtime.manifest import load_manifest

    manifest = load_manifest(artifact, verify=True)  # once here; the workers skip re-hashing
    spec_in = json.loads(spec_file.read_text(encoding="utf-8"))
    mode = "quick" if quick else "full"
    seq_lengths = spec_in["seq_lengths"][mode]
    precisions = [precision] if precision else list(manifest.precisions)
    # EDGEPACK_EXEC (as in install.sh): the prefix that runs the device python -- qemu in tests,
    # empty on a Pi. Under qemu platform.machine() says aarch64 too, so it is what marks emulation.
    exec_prefix = shlex.split(os.environ.get("EDGEPACK_EXEC", ""))
    native = platform.machine() in ("aarch64", "arm64") and not exec_prefix
    if platform.machine() not in ("aarch64", "arm64"):
        raise TargetError(f"bench.sh times this package's aarch64 model on the device; this machine is "
                          f"{platform.machine()}. Run it on the Pi, or `edgepack bench PROJECT --target aarch64` here")
    threads = threads or _default_threads(manifest)
    backends = {b["name"]: b for b in (backend_for(p, native) for p in precisions)}
    spec = {
        "project_root": str(artifact), "build_dir": str(artifact), "threads": threads,
        "batch_sizes": spec_in["batch_sizes"], "seq_lengths": seq_lengths, "modes": ["e2e", "model"],
        "texts": {str(s): spec_in["texts"][str(s)] for s in seq_lengths}, "timing": spec_in["timing"][mode],
        "backends": backends, "breakdown": {"enabled": False},
    }  # fmt: skip
    rounds = rounds or spec_in["rounds"][mode]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgepack-ondevice-bench-") as tmp:
        (Path(tmp) / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        rows = run_rounds(backends, rounds, Path(tmp) / "spec.json", python=exec_prefix + [sys.executable],
                          env=dict(os.environ, OMP_NUM_THREADS=str(threads)), progress=progress)
    for row in rows:
        row["emulated"] = not native
    return {
        "format": FORMAT, "target": "aarch64", "mode": mode, "rounds": rounds, "threads": threads,
        "model": {k: manifest.model.get(k) for k in ("name", "version", "task")},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1), "machine": machine_info(), "rows": rows,
    }  # fmt: skip


def table(report: dict) -> str:
    """Plain text: p50 latency and throughput per configuration (the JSON has the rest)."""
    lines = [f"{report['model']['name']} {report['model']['version']} on {report['machine']['model']} "
             f"({report['machine']['machine']}, {report['threads']} threads, {report['mode']})"]
    lines.append(f"{'backend':<22}{'mode':<7}{'batch':>6}{'seq':>5}{'p50 ms':>10}{'p90 ms':>10}{'items/s':>10}")
    for row in report["rows"]:
        if row.get("status") != "ok":
            lines.append(f"{row['backend']:<22}{row.get('status')}: {row.get('reason')}")
            continue
        for m in row["measurements"]:
            lines.append(f"{row['backend']:<22}{m['mode']:<7}{m['batch']:>6}{m['seq_len']:>5}"
                         f"{m['latency_ms']['p50']:>10.3f}{m['latency_ms']['p90']:>10.3f}{m['throughput']:>10.1f}")
        lines.append(f"{'':<22}cold start {row['cold_start_ms']['median']:.0f} ms, peak RSS {row['peak_rss_mb']['median']:.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=os.environ.get("EDGEPACK_PROG", "bench.sh"), description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", required=True, help="the installed model directory")
    parser.add_argument("--spec", required=True, help="bench/spec.json of the package")
    parser.add_argument("--quick", action="store_true", help="seconds, not minutes: one round, short budgets")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: up to 4)")
    parser.add_argument("--precision", default=None, help="only this precision (the package ships one)")
    parser.add_argument("--out", default=None, help="write the JSON report here (default: stdout only)")
    args = parser.parse_args(argv)

    from edgepack.errors import EdgepackError

    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731 -- progress to stderr, JSON to stdout
    try:
        report = run(Path(args.artifact), Path(args.spec), quick=args.quick, rounds=args.rounds,
                     threads=args.threads, precision=args.precision, progress=log)
    except EdgepackError as exc:
        log(f"error: {exc}")
        return exc.exit_code
    text = json.dumps(report, indent=2)
    if args.out:
        tmp = Path(args.out).with_name(Path(args.out).name + ".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, args.out)  # atomic: a half-written report never replaces a good one
        log(f"wrote {args.out}")
    log(table(report))
    if not args.out:
        print(text)
    return 0 if all(r.get("status") == "ok" for r in report["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
