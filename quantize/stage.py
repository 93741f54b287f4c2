"""`edgepack quantize`: fp32 -> INT8 behind the accuracy and speed gates, written atomically.

Order: (re-)export when the build is missing or stale -> check the fp32 file -> ORT pre-processing
-> quantize (dynamic for recurrent / Transformer graphs, static QDQ when the graph convolves;
per-tensor vs per-channel chosen by measurement unless set) -> refuse if nothing was quantized ->
accuracy gate, per-node fp32 fallback until it passes -> speed per target -> golden outputs ->
one atomic update of the build directory (model.int8.onnx + manifest). Any failure before the
last step leaves the build directory exactly as it was.

Manifest fields written (other stages read these):
  precisions.int8        {file, tolerance 1e-3, quantization: {mode, format, per_channel, weight_type,
                          activation_type, op_types, preprocess, nodes_kept_fp32, per_channel_choice, calibration?}}
  precisions.fp16/int4   the same, when asked for and passing the gate
  golden[i].outputs.int8 (and .fp16/.int4) the quantized model's outputs for each golden input
  parity.int8            {reference, candidate, ok, agreement, max/mean_prob_delta, accuracy_*, failures}
  quantization           {precision, mode, format, per_channel, report (per op type), gate {evaluation,
                          thresholds, result}, fallback, per_channel_choice, timing, extra_precisions}
  targets.cpu/.rpi/.wasm  edgepack.quantize.decision.Decision.as_dict(): {precision, decided_by (config | ops |
                          accuracy | speed | tie-rule), rule, reason, candidate, threshold, rounds, ratio,
                          ratio_interval, medians_ms, measured_on, stopped_by, measurements}; wasm adds
                          form, ops, probe (onnxruntime-web in Node: loads?, max diff vs native). Decided
                          once per fingerprint; `build` copies them, never re-measures.
  stages.quantize        {fingerprint, precision}
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace as dc_replace
from pathlib import Path
from typing import Any

import numpy as np

from edgepack.atomic import atomic_directory
from edgepack.errors import ProjectError, QuantizationError
from edgepack.manifest_writer import write_manifest
from edgepack.progress import QUIET, Progress
from edgepack.project import Project, load_project
from edgepack.quantize import decision, dynamic, extra, ops, report, speed, static, wasm_probe
from edgepack.quantize.decision import Decision, Policy
from edgepack.quantize.evalset import calibration_feeds, evaluation_set, project_encoder, read_calibration_file
from edgepack.quantize.fallback import Fallback, select
from edgepack.quantize.gate import GateResult, Thresholds, evaluate, run_all
from edgepack.quantize.prepare import load_onnx, preprocess
from edgepack.runtime.artifacts import PRECISION_FILES, PRECISION_TOLERANCE
from edgepack.runtime.manifest import load_manifest
from edgepack.runtime.session import create_session

STAGE_VERSION = "2"  # bump when the stage's decisions change, so `build` re-runs it
MODES = ("auto", "dynamic", "static", "none")
QUANTIZERS = {"dynamic": dynamic.quantize, "static": static.quantize}
SPEED_TEXTS = 32
WASM_PROBE_TEXTS = 16


@dataclass
class QuantizeResult:
    build_dir: Path
    status: str
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def section(self) -> dict[str, Any]:
        return self.manifest.get("quantization", {})

    def as_dict(self) -> dict[str, Any]:
        return {"build_dir": str(self.build_dir), "status": self.status, "quantization": self.section,
                "targets": self.manifest.get("targets", {}),
                "precisions": sorted(self.manifest.get("precisions", {}))}


def _settings(project: Project, mode, per_channel, calibration, precisions) -> dict[str, Any]:
    cfg = project.section("quantization")
    settings = {
        "mode": mode or cfg.get("mode", "auto"),
        "per_channel": per_channel if per_channel is not None else cfg.get("per_channel"),
        "calibration": str(calibration) if calibration else cfg.get("calibration"),
        "extra_precisions": list(precisions) if precisions is not None else list(cfg.get("extra_precisions", [])),
        "exclude_nodes": list(cfg.get("exclude_nodes", [])),
        "max_slowdown": float(cfg.get("max_slowdown", speed.DEFAULT_MAX_SLOWDOWN)),
    }
    problems = []
    if settings["mode"] not in MODES:
        problems.append(f"[quantization] mode = {settings['mode']!r}: must be one of {', '.join(MODES)}")
    bad = [p for p in settings["extra_precisions"] if p not in extra.BUILDERS]
    if bad:
        problems.append(f"[quantization] extra_precisions: {bad} unknown (choose from {', '.join(extra.BUILDERS)})")
    if settings["max_slowdown"] < 0:
        problems.append("[quantization] max_slowdown: must be >= 0")
    for target, table in project.section("targets").items():
        if isinstance(table, dict) and table.get("precision", "auto") not in ("auto", "fp32", "int8"):
            problems.append(f"[targets] {target} precision = {table['precision']!r}: must be auto, fp32 or int8")
    if problems:
        raise ProjectError(f"{project.path}: " + "; ".join(problems))
    return settings


def fingerprint(project: Project, settings: dict[str, Any]) -> str:
    from edgepack import __version__

    h = hashlib.sha256(f"{__version__}/{STAGE_VERSION}".encode())
    h.update(json.dumps([settings, project.section("quantization"), project.section("targets")], sort_keys=True,
                        default=str).encode())
    paths = [project.build_dir / PRECISION_FILES["fp32"], project.tokenizer_path]
    for rel in (settings["calibration"], project.section("evaluation").get("file")):
        if rel:
            paths.append(project.file(rel) if not Path(rel).is_absolute() else Path(rel))
    for p in paths:
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
    return h.hexdigest()


def _ensure_export(project: Project, progress: Progress) -> None:
    from edgepack.export import export_project, fingerprint as export_fingerprint, read_build_manifest

    current = read_build_manifest(project.build_dir)
    if current and current.get("stages", {}).get("export", {}).get("fingerprint") == export_fingerprint(project):
        return
    progress.say("→ the fp32 build is missing or out of date: exporting first (edgepack export)")
    export_project(project, progress=progress)


def _golden_outputs(session, manifest: dict, pad_id: int) -> list[dict]:
    """Outputs of ``session`` for each golden entry, fed exactly as pad_batch feeds one text."""
    names = [i.name for i in session.get_inputs()]
    out_names = [o.name for o in session.get_outputs()]
    results = []
    for entry in manifest.get("golden", []):
        feeds = {n: np.asarray([entry.get(n) or [0] * len(entry["input_ids"])], dtype=np.int64) for n in names}
        if feeds["input_ids"].shape[1] == 0:  # empty text: one [PAD] with mask 0, as pad_batch does
            feeds = {n: np.zeros((1, 1), np.int64) for n in names}
            feeds["input_ids"][:] = pad_id
        values = session.run(out_names, feeds)
        results.append({k: np.asarray(v[0], dtype=np.float64).round(9).tolist() for k, v in zip(out_names, values)})
    return results


WASM_TIMINGS = ("auto", "chromium", "node", "none")


def _wasm_timing(given: str | None) -> str:
    value = given if given is not None else os.environ.get("EDGEPACK_WASM_TIMING", "").strip() or "auto"
    if value not in WASM_TIMINGS:
        where = "wasm_timing" if given is not None else "the environment variable EDGEPACK_WASM_TIMING"
        raise ProjectError(f"{where} = {value!r}: must be one of {', '.join(WASM_TIMINGS)} (unset: auto)")
    return value


def _policy(settings: dict, policy: Policy | None) -> Policy:
    base = policy or Policy()
    return dc_replace(base, max_slowdown=settings["max_slowdown"])


def _target_decisions(project: Project, q_model, timed: dict, settings: dict, policy: Policy,
                      precision: str) -> dict[str, Decision]:
    """One Decision per target, in the order config -> ops -> speed (the tie rule inside speed)."""
    out: dict[str, Decision] = {}
    user = project.section("targets")
    for target in ops.TARGETS:
        forced = (user.get(target) or {}).get("precision")
        missing = ops.unsupported_ops(q_model, target)
        if missing and forced == precision:
            raise QuantizationError(f"{project.path}: [targets] {target} precision = {precision!r}, but the "
                                    f"{precision} model uses ops {target} cannot run: {missing}")
        if forced and forced != "auto":
            out[target] = decision.fixed(target, forced, "config", f"set in edgepack.toml ([targets] {target} "
                                         f"precision = {forced!r})", precision)
        elif missing:
            out[target] = decision.fixed(target, "fp32", "ops", f"{precision} model uses ops {target} cannot run: "
                                         + "; ".join(f"{k}: {v}" for k, v in missing.items()), precision)
        elif target == "wasm":
            out[target] = timed["wasm"]() if callable(timed["wasm"]) else timed["wasm"]
        else:
            out[target] = speed.native_decision(target, timed["native"], policy, precision)
    return out


def _wasm_decision(project, manifest, fp32_path, q_path, goldens, probe_feeds, policy, precision, timing, scratch,
                   progress) -> tuple[Decision, dict]:
    """The wasm target's decision and the Node probe's record. Timed in Chromium (the page a user
    opens) when it can run here, else in Node (same onnxruntime-web wasm, same V8), else not at all:
    the tie rule. ``timing``: "auto" (Chromium, else Node), "node" or "none"."""
    q_session = create_session(q_path)
    native = [q_session.run(None, f)[0][0] for f in probe_feeds]
    chromium_why = None
    if timing == "auto":
        from edgepack.web.browser_bench import chromium_available

        chromium_why = chromium_available()
        timing = "chromium" if chromium_why is None else "node"
    with progress.stage("onnxruntime-web probe in Node (loads? outputs vs native" +
                        (", timing)" if timing == "node" else ")")):
        probe = wasm_probe.probe(fp32_path, q_path, probe_feeds, native, precision,
                                 rounds=policy.max_rounds if timing == "node" else 0, max_seconds=policy.max_seconds)
    q_entry = probe.get("models", {}).get(precision, {})
    if probe["status"] == "ran" and not q_entry.get("loads", False):
        return decision.fixed("wasm", "fp32", "ops", f"onnxruntime-web could not load the {precision} model: "
                              f"{q_entry.get('error')}", precision), probe
    measurements, why = [], None
    if timing == "chromium":
        with progress.stage("wasm speed gate in Chromium (fp32 vs int8, interleaved rounds)"):
            from edgepack.web.browser_bench import gate_measurements

            art = _candidate_artifact(project, manifest, q_path, goldens, scratch, precision)
            measurements, why = gate_measurements(art, precision, policy)
        if not measurements:  # the browser failed: Node's reading is the next best
            chromium_why = why
            probe = wasm_probe.probe(fp32_path, q_path, probe_feeds, native, precision,
                                     rounds=policy.max_rounds, max_seconds=policy.max_seconds)
    t = probe.pop("timing", None)
    if not measurements and t:
        measurements = [decision.from_rounds(t["rounds"]["fp32"], t["rounds"][precision], policy, t["measured_on"],
                                             {"threads": 1, "texts_per_round": t["texts_per_round"],
                                              "clock": t["clock"]})]
    note = ""
    if chromium_why and measurements:
        note = f"timed in Node, not Chromium ({chromium_why})"
    elif not measurements:
        note = "not measured: " + "; ".join(x for x in (chromium_why, probe.get("reason")) if x) \
            if (chromium_why or probe.get("reason")) else "not measured (wasm timing off)"
    return decision.by_speed("wasm", measurements, policy, precision, note), probe


def _candidate_artifact(project, manifest, q_path, goldens, scratch: Path, precision: str) -> Path:
    """A scratch build directory with fp32 and the candidate, so the browser gate times (and the page
    verifies) exactly the bytes that will be published."""
    art = scratch / "candidate"
    art.mkdir()
    data = json.loads(json.dumps(manifest))
    others = {e["file"] for p, e in data.get("precisions", {}).items() if p != "fp32"}
    for rel in data.get("files", {}):
        if rel not in others and "/" not in rel:
            os.symlink((project.build_dir / rel).resolve(), art / rel)
    os.symlink(Path(q_path).resolve(), art / PRECISION_FILES[precision])
    data["precisions"] = {"fp32": data["precisions"]["fp32"],
                          precision: {"file": PRECISION_FILES[precision], "tolerance": PRECISION_TOLERANCE[precision]}}
    for g, out in zip(data.get("golden", []), goldens):
        g["outputs"] = {"fp32": (g.get("outputs") or {}).get("fp32"), precision: out}
        if g["outputs"]["fp32"] is None:
            g["outputs"].pop("fp32")
    write_manifest(art, data)
    return art


class _Run:
    """One quantization attempt's shared state: scratch dir, fp32 reference outputs, the gate."""

    def __init__(self, project, settings, pre_path, evalset, reference, limits, calibration):
        self.project, self.settings, self.pre = project, settings, pre_path
        self.evalset, self.reference, self.limits, self.calibration = evalset, reference, limits, calibration
        self.mode = settings["mode"]

    def quantize(self, dst: Path, *, per_channel: bool, exclude=(), only=None) -> dict:
        return QUANTIZERS[self.mode](self.pre, dst, per_channel=per_channel,
                                     exclude=list(self.settings["exclude_nodes"]) + list(exclude), only=only,
                                     calibration=self.calibration)

    def gate(self, path: Path) -> GateResult:
        return evaluate(self.project.task, self.reference, run_all(create_session(path), self.evalset),
                        self.evalset.labels, self.limits)


def _choose_per_channel(run: _Run, scratch: Path, progress: Progress) -> tuple[bool, dict, Path, GateResult, dict]:
    fixed = run.settings["per_channel"]
    options = [fixed] if fixed is not None else [False, True]
    trials = {}
    for pc in options:
        path = scratch / f"q-{'channel' if pc else 'tensor'}.onnx"
        info = run.quantize(path, per_channel=pc)
        result = run.gate(path)
        trials[pc] = (path, result, info)
        progress.say(f"  {'per-channel' if pc else 'per-tensor'}: " + result.lines()[0])
    if fixed is not None:
        path, result, info = trials[fixed]
        return fixed, {"chosen": "per-channel" if fixed else "per-tensor", "reason": "set in edgepack.toml / CLI"}, \
            path, result, info
    # Per-channel only when it measurably helps: it costs a scale per output channel and, for
    # some kernels, speed; "helps" = passes when per-tensor does not, or is closer to fp32.
    (pt_path, pt, pt_info), (pc_path, pc, pc_info) = trials[False], trials[True]
    better = (pc.ok and not pt.ok) or (pc.ok == pt.ok and pc.harm < pt.harm * 0.9)
    choice = {"chosen": "per-channel" if better else "per-tensor",
              "reason": ("per-channel was closer to fp32 by more than 10% (harm "
                         f"{pc.harm:.3e} vs {pt.harm:.3e})" if better else
                         f"per-channel did not help by 10% (harm {pc.harm:.3e} vs per-tensor {pt.harm:.3e})"),
              "per_tensor": pt.as_dict(), "per_channel": pc.as_dict()}
    return (True, choice, pc_path, pc, pc_info) if better else (False, choice, pt_path, pt, pt_info)


def quantize_project(project: Project | str | Path, *, mode: str | None = None, per_channel: bool | None = None,
                     calibration: str | Path | None = None, precisions: list[str] | None = None,
                     progress: Progress = QUIET, policy: Policy | None = None,
                     wasm_timing: str | None = None) -> QuantizeResult:
    """Quantize ``<project>/build/model.fp32.onnx`` to INT8 behind the gates and update the build.

    Raises QuantizationError (nothing written) when nothing could be quantized or the gate cannot
    be met even with per-node fp32 fallback. ``policy``: the speed gate's limits (rounds, seconds,
    confidence; max_slowdown always comes from the project). ``wasm_timing``: where the wasm speed
    gate times: "auto" (Chromium, else Node), "chromium", "node" or "none" (the tie rule: fp32);
    default: the EDGEPACK_WASM_TIMING environment variable, else "auto".
    """
    if not isinstance(project, Project):
        project = load_project(project)
    wasm_timing = _wasm_timing(wasm_timing)
    settings = requested = _settings(project, mode, per_channel, calibration, precisions)
    if settings["mode"] == "none":
        return QuantizeResult(project.build_dir, "skipped (mode = none)")
    limits = Thresholds.from_project(project)
    if settings["calibration"]:  # fail fast, before any work, even when the mode will not need it
        cal = Path(settings["calibration"]) if calibration else project.file(settings["calibration"])
        read_calibration_file(cal)
    _ensure_export(project, progress)
    manifest = load_manifest(project.build_dir, verify=True).data
    fp32_path = project.build_dir / PRECISION_FILES["fp32"]
    fp32_model = load_onnx(fp32_path)
    names = [i.name for i in fp32_model.graph.input if i.name not in {x.name for x in fp32_model.graph.initializer}]

    with tempfile.TemporaryDirectory(prefix="edgepack-quantize-") as tmp:
        scratch = Path(tmp)
        pre_path = scratch / "pre.onnx"
        with progress.stage("ONNX Runtime pre-processing (shape inference, optimisation)"):
            how = preprocess(fp32_path, pre_path)
        pre_model = load_onnx(pre_path)
        unknown = sorted(set(settings["exclude_nodes"]) - {n.name for n in pre_model.graph.node})
        if unknown:
            raise ProjectError(f"{project.path}: [quantization] exclude_nodes: no node named {unknown} in the "
                               "graph; use names from the quantization report (nodes_quantized / fallback ranking)")
        chosen_mode = ops.choose_mode(pre_model) if settings["mode"] == "auto" else settings["mode"]
        settings = {**settings, "mode": chosen_mode}
        with progress.stage(f"tokenizing the evaluation set"):
            evalset = evaluation_set(project, names)
            reference = run_all(create_session(fp32_path), evalset)
        cal_source, cal_feeds = (None, None)
        if chosen_mode == "static":
            cal_source, cal_feeds = calibration_feeds(project, names, evalset, settings["calibration"])
        run = _Run(project, settings, pre_path, evalset, reference, limits, cal_feeds)

        with progress.stage(f"{chosen_mode} INT8 quantization, gate on {evalset.source}"):
            pc, pc_choice, q_path, gate_result, info = _choose_per_channel(run, scratch, progress)
        full = report.analyze(pre_model, load_onnx(q_path), fp32_path.stat().st_size, q_path.stat().st_size)
        if full["nodes_int8"] == 0:
            ops_seen = ", ".join(sorted(ops.op_counts(pre_model)))
            raise QuantizationError(
                f"{fp32_path}: nothing was quantized: no {'/'.join(ops.STATIC_OPS if chosen_mode == 'static' else ops.DYNAMIC_OPS)} "
                f"node with constant fp32 weights in {chosen_mode} mode (graph ops: {ops_seen}). "
                "Nothing was written; ship fp32, or try --mode static/dynamic.")
        fallback = Fallback()
        if not gate_result.ok:
            progress.say("✗ gate failed: " + "; ".join(gate_result.failures) + " -> per-node fp32 fallback")
            fallback, passed, fb_path = select(
                full["nodes_quantized"],
                lambda dst, exclude, only: run.quantize(dst, per_channel=pc, exclude=exclude, only=only),
                run.gate, scratch, [], progress)
            if passed is None:
                last = fallback.steps[-1]["gate"]["failures"] if fallback.steps else gate_result.failures
                raise QuantizationError(
                    f"{project.path}: the quantized model fails the accuracy gate even with "
                    f"{len(fallback.excluded)} of {full['nodes_int8']} nodes kept in fp32 "
                    f"({'; '.join(last)}). Nothing was written. Loosen [quantization] thresholds "
                    "(min_agreement, max_accuracy_drop, max_prob_delta) or ship fp32 (mode = \"none\").")
            q_path, gate_result = fb_path, passed
        q_model = load_onnx(q_path)
        final = report.analyze(pre_model, q_model, fp32_path.stat().st_size, q_path.stat().st_size)
        final["fallback_cost_bytes"] = final["file_bytes_quantized"] - full["file_bytes_quantized"]
        final["nodes_kept_fp32"] = fallback.excluded + settings["exclude_nodes"]
        for line in report.table_lines(final):
            progress.say("  " + line)
        progress.say(gate_result.lines()[0])

        policy = _policy(settings, policy)
        with progress.stage("timing fp32 vs int8 (interleaved rounds until the interval is clear)"):
            native = speed.measure(fp32_path, q_path, evalset.feeds[:SPEED_TEXTS], policy)
        form = f"{info['format']} ({info['mode']}), ops: " + ", ".join(
            sorted(op for op in ops.op_counts(q_model) if "Integer" in op or "Quant" in op or op.startswith("QLinear")))
        pad_id = project_encoder(project, names).pad_id
        goldens = _golden_outputs(create_session(q_path), manifest, pad_id)
        wasm_extra: dict = {"form": form, "ops": sorted(ops.op_counts(q_model))}

        def wasm_decision() -> Decision:  # only when no config / op table decided it first
            d, probe = _wasm_decision(project, manifest, fp32_path, q_path, goldens,
                                      evalset.feeds[:WASM_PROBE_TEXTS], policy, "int8", wasm_timing, scratch,
                                      progress)
            wasm_extra["probe"] = probe
            return d

        decisions = _target_decisions(project, q_model, {"native": native, "wasm": wasm_decision}, settings,
                                      policy, "int8")
        targets = {t: d.as_dict() for t, d in decisions.items()}
        targets["wasm"] = {**targets["wasm"], **wasm_extra}

        extras = _extra_precisions(run, settings["extra_precisions"], fp32_path, pre_path, scratch, manifest, pad_id,
                                   progress)

        info.update({"preprocess": how, "nodes_kept_fp32": final["nodes_kept_fp32"], "per_channel_choice": pc_choice})
        if cal_source:
            info["calibration"] = cal_source
        section = {
            "precision": "int8", **{k: info[k] for k in ("mode", "format", "per_channel", "weight_type", "activation_type")},
            "report": final,
            "gate": {"evaluation": evalset.source, "thresholds": limits.as_dict(), "result": gate_result.as_dict(),
                     "evaluated": "one text per call, as the runtimes serve"},
            "fallback": fallback.as_dict() if fallback.ranking else None,
            "per_channel_choice": pc_choice,
            "timing": native.as_dict("int8"),
            "extra_precisions": {k: v["record"] for k, v in extras.items()},
        }
        return _publish(project, manifest, q_path, info, goldens, gate_result, section, targets, extras, requested)


def _extra_precisions(run: _Run, wanted, fp32_path, pre_path, scratch, manifest, pad_id, progress) -> dict:
    out = {}
    for precision in wanted:
        path = scratch / PRECISION_FILES[precision]
        with progress.stage(f"{precision} conversion"):
            info = extra.BUILDERS[precision](fp32_path if precision == "fp16" else pre_path, path)
            result = run.gate(path)
        progress.say(f"  {precision}: " + result.lines()[0])
        record = {**info, "gate": result.as_dict(), "written": result.ok}
        if info.get("nodes_int4") == 0:  # like INT8: nothing converted is not a result worth shipping
            record.update(written=False, reason="no MatMul with constant weights: nothing to convert to int4")
        elif not result.ok:
            record["reason"] = "failed the accuracy gate: " + "; ".join(result.failures)
        ok = record["written"]
        out[precision] = {"record": record, "path": path if ok else None,
                          "golden": _golden_outputs(create_session(path), manifest, pad_id) if ok else None}
    return out


def _publish(project, manifest, q_path, info, goldens, gate_result, section, targets, extras, settings) -> QuantizeResult:
    manifest = json.loads(json.dumps(manifest))  # a private copy
    stale = [p for p in ("int8", "fp16", "int4") if p in manifest.get("precisions", {})]
    with atomic_directory(project.build_dir, keep_existing=True) as tmp:
        for p in stale:
            (tmp / manifest["precisions"].pop(p)["file"]).unlink(missing_ok=True)
            for g in manifest.get("golden", []):
                g.get("outputs", {}).pop(p, None)
        shutil.copyfile(q_path, tmp / PRECISION_FILES["int8"])
        manifest["precisions"]["int8"] = {"file": PRECISION_FILES["int8"], "tolerance": PRECISION_TOLERANCE["int8"],
                                          "quantization": info}
        for g, out in zip(manifest.get("golden", []), goldens):
            g.setdefault("outputs", {})["int8"] = out
        for precision, item in extras.items():
            if item["path"] is None:
                continue
            shutil.copyfile(item["path"], tmp / PRECISION_FILES[precision])
            manifest["precisions"][precision] = {"file": PRECISION_FILES[precision],
                                                 "tolerance": PRECISION_TOLERANCE[precision],
                                                 "quantization": item["record"]}
            for g, out in zip(manifest.get("golden", []), item["golden"]):
                g.setdefault("outputs", {})[precision] = out
        manifest.setdefault("parity", {})["int8"] = {"reference": "ONNX Runtime fp32", "candidate": "ONNX Runtime int8",
                                                     **gate_result.as_dict()}
        manifest["quantization"] = section
        manifest["targets"] = {**manifest.get("targets", {}), **targets}
        manifest.setdefault("stages", {})["quantize"] = {"fingerprint": fingerprint(project, settings),
                                                         "precision": "int8"}
        manifest = write_manifest(tmp, manifest)
    return QuantizeResult(project.build_dir, "ran", manifest)


def run_stage(project: Project, force: bool = False, progress: Progress = QUIET) -> str:
    """The quantize stage of `edgepack build`: skipped when its inputs did not change."""
    settings = _settings(project, None, None, None, None)
    if settings["mode"] == "none":
        return "skipped (mode = none)"
    manifest = json.loads((project.build_dir / "manifest.json").read_text(encoding="utf-8")) \
        if (project.build_dir / "manifest.json").is_file() else {}
    stamp = fingerprint(project, settings)
    if not force and manifest.get("stages", {}).get("quantize", {}).get("fingerprint") == stamp \
            and "int8" in manifest.get("precisions", {}):
        progress.say("→ quantize: up to date")
        return "skipped (inputs unchanged)"
    result = quantize_project(project, progress=progress)
    return result.status
