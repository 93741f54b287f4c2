"""`edgepack quantize`: fp32 -> INT8 behind the accuracy and speed gates, written atomically.

Order, one function each: (re-)export when the build is missing or stale -> ``_prepare`` (ORT
pre-processing, exclude_nodes check, mode = auto resolved: dynamic for recurrent / Transformer
graphs, static QDQ when the graph convolves) -> ``_split`` (evaluation set into disjoint selection
and held-out parts; loud when the gate is weak) -> ``_recover`` (the recovery ladder, ladder.py:
every choice on the selection split, acceptance on the held-out split; refuse if nothing was
quantized) -> ``_report`` -> ``_decide_targets`` (speed per target) -> golden outputs -> extra
precisions -> ``_publish`` (one atomic update of the build directory from a ``Publication``).
Any failure before the last step leaves the build directory exactly as it was.

Manifest fields written (other stages read these):
  precisions.int8        {file, tolerance 1e-3, quantization: {mode, format, per_channel, weight_type,
                          activation_type, op_types, preprocess, nodes_kept_fp32, per_channel_choice, calibration?}}
  precisions.fp16/int4   the same, when asked for and passing the gate
  golden[i].outputs.int8 (and .fp16/.int4) the quantized model's outputs for each golden input
  parity.int8            {reference, candidate, ok, agreement, max/mean_prob_delta, accuracy_*, failures}
  quantization           {precision, mode, format, per_channel, report (per op type), gate {evaluation,
                          split {seed, selection_texts, heldout_texts, ...}, thresholds, result (held-out),
                          selection, weak, weak_reason?}, recovery {accepted, step, table (every candidate:
                          selection/held-out metrics, file_bytes, ms_per_text), sensitivity (one-pass ranking)},
                          per_channel_choice, timing, extra_precisions}
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
import sys
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
from edgepack.quantize import decision, lowbit, ops, report, speed, wasm_probe
from edgepack.quantize.decision import Decision, Policy
from edgepack.quantize.evalset import (Split, calibration_feeds, evaluation_set, project_encoder,
                                       read_calibration_file, split)
from edgepack.quantize.gate import GateResult, Thresholds
from edgepack.quantize.ladder import Ladder, Trial, recover, table_lines
from edgepack.quantize.prepare import load_onnx, preprocess
from edgepack.runtime.artifacts import PRECISION_FILES, PRECISION_TOLERANCE
from edgepack.runtime.manifest import load_manifest
from edgepack.runtime.session import create_session

STAGE_VERSION = "6"  # bump when the stage's decisions change, so `build` re-runs it
MODES = ("auto", "dynamic", "static", "none")
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
    bad = [p for p in settings["extra_precisions"] if p not in lowbit.BUILDERS]
    if bad:
        problems.append(f"[quantization] extra_precisions: {bad} unknown (choose from {', '.join(lowbit.BUILDERS)})")
    if settings["max_slowdown"] < 0:
        problems.append("[quantization] max_slowdown: must be >= 0")
    for target, table in project.section("targets").items():
        if isinstance(table, dict) and table.get("precision", "auto") not in ("auto", "fp32", "int8"):
            problems.append(f"[targets] {target} precision = {table['precision']!r}: must be auto, fp32 or int8")
    if problems:
        raise ProjectError(f"{project.path}: " + "; ".join(problems))
    return settings


def quantize_fingerprint(project: Project, settings: dict[str, Any]) -> str:
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
    from edgepack.export import export_fingerprint, export_project, read_build_manifest

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
            out[target] = speed.native_decision(target, timed["native"](), policy, precision)
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
    with progress.step("onnxruntime-web probe in Node (loads? outputs vs native" +
                        (", timing)" if timing == "node" else ")")):
        probe = wasm_probe.probe(fp32_path, q_path, probe_feeds, native, precision,
                                 rounds=policy.max_rounds if timing == "node" else 0, max_seconds=policy.max_seconds)
    q_entry = probe.get("models", {}).get(precision, {})
    if probe["status"] == "ran" and not q_entry.get("loads", False):
        return decision.fixed("wasm", "fp32", "ops", f"onnxruntime-web could not load the {precision} model: "
                              f"{q_entry.get('error')}", precision), probe
    measurements, why = [], None
    if timing == "chromium":
        with progress.step("wasm speed gate in Chromium (fp32 vs int8, interleaved rounds)"):
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


@dataclass
class _Inputs:
    """What every step of one quantization reads: the project, its settings, the files."""
    project: Project
    settings: dict[str, Any]
    requested: dict[str, Any]  # the settings as asked (the fingerprint's input), before mode = auto resolves
    limits: Thresholds
    manifest: dict[str, Any]
    fp32_path: Path
    names: list[str]
    scratch: Path
    calibration: Path | None = None  # --calibration (relative to the cwd) or [quantization] calibration
    pre_path: Path | None = None
    pre_model: Any = None
    preprocess: str = ""


@dataclass
class Publication:
    """Everything _publish writes, in one record."""
    q_path: Path
    info: dict
    goldens: list[dict]
    gate: GateResult  # the held-out result: what the manifest's parity.int8 reports
    section: dict
    targets: dict
    extras: dict


def _prepare(inputs: _Inputs, progress: Progress) -> None:
    """Pre-process the fp32 graph; check [quantization] exclude_nodes against it; resolve mode = auto."""
    inputs.pre_path = inputs.scratch / "pre.onnx"
    with progress.step("ONNX Runtime pre-processing (shape inference, optimisation)"):
        inputs.preprocess = preprocess(inputs.fp32_path, inputs.pre_path)
    inputs.pre_model = load_onnx(inputs.pre_path)
    unknown = sorted(set(inputs.settings["exclude_nodes"]) - {n.name for n in inputs.pre_model.graph.node})
    if unknown:
        raise ProjectError(f"{inputs.project.path}: [quantization] exclude_nodes: no node named {unknown} in the "
                           "graph; use names from the quantization report (nodes_quantized / recovery ranking)")
    if inputs.settings["mode"] == "auto":
        inputs.settings = {**inputs.settings, "mode": ops.choose_mode(inputs.pre_model)}


def _split(inputs: _Inputs, progress: Progress) -> Split:
    """The evaluation set, split into selection and held-out; loud when the gate is weak."""
    with progress.step("tokenizing the evaluation set"):
        parts = split(evaluation_set(inputs.project, inputs.names))
    if parts.selection.weak:
        # Loud even under --json: a weak gate is a fact about the artifact, not progress chatter.
        print(f"warning: weak accuracy gate: {parts.selection.weak}", file=sys.stderr, flush=True)
    progress.say(f"  split: {parts.record['selection_texts']} selection / {parts.record['heldout_texts']} held-out "
                 f"texts (seed {parts.record['seed']}); the gate accepts on the held-out texts only")
    return parts


def _nothing_quantized(inputs: _Inputs, trial: Trial) -> None:
    mode = trial.recipe.mode
    ops_seen = ", ".join(sorted(ops.op_counts(inputs.pre_model)))
    raise QuantizationError(
        f"{inputs.fp32_path}: nothing was quantized: no "
        f"{'/'.join(ops.STATIC_OPS if mode == 'static' else ops.DYNAMIC_OPS)} node with constant fp32 weights in "
        f"{mode} mode (graph ops: {ops_seen}). Nothing was written; ship fp32, or try --mode static/dynamic.")


def _recover(inputs: _Inputs, parts: Split, progress: Progress) -> tuple[Trial, Ladder, dict]:
    """Climb the recovery ladder; the accepted trial, the ladder (its table) and the per-channel choice."""
    project, settings = inputs.project, inputs.settings
    cal_source, cal_feeds = calibration_feeds(project, inputs.names, parts.selection, inputs.calibration)
    ladder = Ladder(project.task, inputs.fp32_path, inputs.pre_path, parts, inputs.limits, inputs.scratch,
                    tuple(settings["exclude_nodes"]), cal_feeds, cal_source, progress)
    pre = inputs.pre_model

    def quantized(path: Path) -> list[str]:
        return report.analyze(pre, load_onnx(path), 1, 1)["nodes_quantized"]

    with progress.step(f"{settings['mode']} INT8 and the recovery ladder (selection: {len(parts.selection)} texts, "
                        f"held-out: {len(parts.heldout)})"):
        first_seen = len(ladder.trials)
        accepted, pc_choice = recover(ladder, settings["mode"], settings["per_channel"], pre, quantized,
                                      dict(ops.op_counts(pre)))
    if not quantized(ladder.trials[first_seen].path):
        _nothing_quantized(inputs, ladder.trials[first_seen])
    for line in table_lines([t.row() for t in ladder.trials]):
        progress.say("  " + line)
    if accepted is None:
        last = ladder.trials[-1]
        failures = (last.heldout or last.selection).failures
        raise QuantizationError(
            f"{project.path}: the quantized model fails the accuracy gate on every recovery step "
            f"({len(ladder.trials)} candidates; last: {last.recipe.label}: {'; '.join(failures)}). Nothing was "
            "written. Loosen [quantization] thresholds (min_agreement, max_accuracy_drop, max_prob_delta, "
            "min_cosine) or ship fp32 (mode = \"none\").")
    return accepted, ladder, pc_choice


def _report(inputs: _Inputs, accepted: Trial, ladder: Ladder) -> dict:
    full_path = ladder.trials[0].path
    final = report.analyze(inputs.pre_model, load_onnx(accepted.path), inputs.fp32_path.stat().st_size,
                           accepted.file_bytes)
    final["fallback_cost_bytes"] = accepted.file_bytes - full_path.stat().st_size
    final["nodes_kept_fp32"] = list(accepted.recipe.exclude) + inputs.settings["exclude_nodes"]
    return final


def _decide_targets(inputs: _Inputs, q_path: Path, info: dict, parts: Split, policy: Policy, goldens: list[dict],
                    wasm_timing: str, progress: Progress) -> tuple[dict, Any]:
    """Per-target decisions (config -> ops -> speed); native speed timed once here."""
    q_model = load_onnx(q_path)
    feeds = parts.selection.feeds + parts.heldout.feeds
    measured: dict = {}

    def native():  # timed once, and only when a target's decision needs it (not when config decides all)
        if "timing" not in measured:
            with progress.step("timing fp32 vs int8 (interleaved rounds until the interval is clear)"):
                measured["timing"] = speed.measure(inputs.fp32_path, q_path, feeds[:SPEED_TEXTS], policy)
        return measured["timing"]

    form = f"{info['format']} ({info['mode']}), ops: " + ", ".join(
        sorted(op for op in ops.op_counts(q_model) if "Integer" in op or "Quant" in op or op.startswith("QLinear")
               or op == "MatMulNBits"))
    wasm_extra: dict = {"form": form, "ops": sorted(ops.op_counts(q_model))}

    def wasm_decision() -> Decision:  # only when no config / op table decided it first
        d, probe = _wasm_decision(inputs.project, inputs.manifest, inputs.fp32_path, q_path, goldens,
                                  feeds[:WASM_PROBE_TEXTS], policy, "int8", wasm_timing, inputs.scratch, progress)
        wasm_extra["probe"] = probe
        return d

    decisions = _target_decisions(inputs.project, q_model, {"native": native, "wasm": wasm_decision},
                                  inputs.settings, policy, "int8")
    targets = {t: d.as_dict() for t, d in decisions.items()}
    targets["wasm"] = {**targets["wasm"], **wasm_extra}
    return targets, measured.get("timing")


def quantize_project(project: Project | str | Path, *, mode: str | None = None, per_channel: bool | None = None,
                     calibration: str | Path | None = None, precisions: list[str] | None = None,
                     progress: Progress = QUIET, policy: Policy | None = None,
                     wasm_timing: str | None = None) -> QuantizeResult:
    """Quantize ``<project>/build/model.fp32.onnx`` to INT8 behind the gates and update the build.

    Raises QuantizationError (nothing written) when nothing could be quantized or no step of the
    recovery ladder passes the gate on the held-out split. ``policy``: the speed gate's limits
    (rounds, seconds, confidence; max_slowdown always comes from the project). ``wasm_timing``: where
    the wasm speed gate times: "auto" (Chromium, else Node), "chromium", "node" or "none" (the tie
    rule: fp32); default: the EDGEPACK_WASM_TIMING environment variable, else "auto".
    """
    if not isinstance(project, Project):
        project = load_project(project)
    wasm_timing = _wasm_timing(wasm_timing)
    settings = _settings(project, mode, per_channel, calibration, precisions)
    if settings["mode"] == "none":
        return QuantizeResult(project.build_dir, "skipped (mode = none)")
    limits = Thresholds.from_project(project)
    cal = None
    if settings["calibration"]:  # fail fast, before any work, even when the mode will not need it
        cal = Path(settings["calibration"]) if calibration else project.file(settings["calibration"])
        read_calibration_file(cal)
    _ensure_export(project, progress)
    manifest = load_manifest(project.build_dir, verify=True).data
    fp32_path = project.build_dir / PRECISION_FILES["fp32"]
    fp32_model = load_onnx(fp32_path)
    names = [i.name for i in fp32_model.graph.input if i.name not in {x.name for x in fp32_model.graph.initializer}]

    with tempfile.TemporaryDirectory(prefix="edgepack-quantize-") as tmp:
        inputs = _Inputs(project, dict(settings), settings, limits, manifest, fp32_path, names, Path(tmp), cal)
        _prepare(inputs, progress)
        parts = _split(inputs, progress)
        accepted, ladder, pc_choice = _recover(inputs, parts, progress)
        final = _report(inputs, accepted, ladder)
        for line in report.table_lines(final):
            progress.say("  " + line)
        policy = _policy(inputs.settings, policy)
        pad_id = project_encoder(project, names).pad_id
        goldens = _golden_outputs(create_session(accepted.path), manifest, pad_id)
        info = dict(accepted.info)
        targets, native = _decide_targets(inputs, accepted.path, info, parts, policy, goldens, wasm_timing, progress)
        extras = _extra_precisions(ladder, inputs.settings["extra_precisions"], fp32_path, inputs.pre_path,
                                   inputs.scratch, manifest, pad_id, progress)
        info.update({"preprocess": inputs.preprocess, "nodes_kept_fp32": final["nodes_kept_fp32"],
                     "per_channel_choice": pc_choice, "recipe": accepted.recipe.label})
        if info["mode"] == "static":
            info["calibration"] = ladder.calibration_source
        if "smoothquant" in info:  # the smoothing factors came from these texts (never held-out ones)
            info["smoothquant"] = {**info["smoothquant"], "calibration": ladder.calibration_source}
        section = {
            "precision": "int8",
            **{k: info[k] for k in ("mode", "format", "per_channel", "weight_type", "activation_type")},
            "report": final,
            "gate": {"evaluation": parts.heldout.source, "split": parts.record, "thresholds": limits.as_dict(),
                     "result": accepted.heldout.as_dict(), "selection": accepted.selection.as_dict(),
                     "weak": bool(parts.selection.weak), **({"weak_reason": parts.selection.weak}
                                                            if parts.selection.weak else {}),
                     "evaluated": "one text per call, as the runtimes serve; accepted on the held-out split"},
            "recovery": {"accepted": accepted.recipe.label, "step": accepted.recipe.step,
                         "table": [t.row() for t in ladder.trials],
                         "sensitivity": ladder.ranking.as_dict() if ladder.ranking else None},
            "per_channel_choice": pc_choice,
            # embedding tables under ops.SMALL_TABLE_BYTES: fp32 by design (speed), not by the gate
            "small_tables_fp32": info.get("small_tables_fp32", []),
            "small_matrices_fp32": info.get("small_matrices_fp32", []),
            # residual Adds into LayerNormalization written as Sum (no slow SkipLayerNorm fusion)
            "layernorm_adds_as_sum": info.get("layernorm_adds_as_sum", 0),
            "timing": native.as_dict("int8") if native else None,
            "extra_precisions": {k: v["record"] for k, v in extras.items()},
        }
        return _publish(project, manifest, inputs.requested,
                        Publication(accepted.path, info, goldens, accepted.heldout, section, targets, extras))


def _extra_precisions(ladder: Ladder, wanted, fp32_path, pre_path, scratch, manifest, pad_id, progress) -> dict:
    out = {}
    for precision in wanted:
        path = scratch / PRECISION_FILES[precision]
        with progress.step(f"{precision} conversion"):
            info = lowbit.BUILDERS[precision](fp32_path if precision == "fp16" else pre_path, path)
            result = ladder.gate(path, "heldout", precision)[0]
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


def _publish(project: Project, manifest: dict, settings: dict, pub: Publication) -> QuantizeResult:
    """One atomic update of the build directory: model files, golden outputs, manifest sections."""
    q_path, info, goldens, extras = pub.q_path, pub.info, pub.goldens, pub.extras
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
                                                     **pub.gate.as_dict()}
        manifest["quantization"] = pub.section
        manifest["targets"] = {**manifest.get("targets", {}), **pub.targets}
        manifest.setdefault("stages", {})["quantize"] = {"fingerprint": quantize_fingerprint(project, settings),
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
    stamp = quantize_fingerprint(project, settings)
    if not force and manifest.get("stages", {}).get("quantize", {}).get("fingerprint") == stamp \
            and "int8" in manifest.get("precisions", {}):
        progress.say("→ quantize: up to date")
        return "skipped (inputs unchanged)"
    result = quantize_project(project, progress=progress)
    return result.status
