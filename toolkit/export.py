"""Stage 1: PyTorch -> ONNX, proven to give PyTorch's answers.

Writes ``<project>/build/`` atomically: model.fp32.onnx, tokenizer.json, manifest.json (with
golden vectors). Post-processing lives in the graph (softmax for classification), so every
runtime returns probabilities.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgepack.atomic import atomic_directory
from edgepack.errors import ArtifactError, ExportError, ModelLoadError, ProjectError
from edgepack.manifest_writer import tool_versions, write_manifest
from edgepack.parity import ParityReport, compare
from edgepack.progress import QUIET, Progress
from edgepack.project import Project, load_project
from edgepack.runtime.artifacts import PRECISION_FILES, PRECISION_TOLERANCE, TOKENIZER_NAME
from edgepack.runtime.encoder import BatchEncoder, pad_batch
from edgepack.runtime.session import create_session
from edgepack.runtime.tokenizer import Tokenizer

DEFAULT_INPUTS = ("input_ids", "attention_mask")
OUTPUT_NAME = {"text-classification": "probabilities", "feature-extraction": "embeddings"}
GOLDEN_EXTRA_TEXTS = ("", "Great!!! 👍🏽 مرحبا — naïve café " * 20)


@dataclass
class ExportResult:
    build_dir: Path
    manifest: dict[str, Any]
    parity: ParityReport | None
    skipped: bool = False
    kept: list[str] = field(default_factory=list)  # quantized models carried over (fp32 unchanged)
    removed: list[str] = field(default_factory=list)  # quantized models dropped (fp32 changed)

    def as_dict(self) -> dict:
        return {
            "build_dir": str(self.build_dir),
            "skipped": self.skipped,
            "model": self.manifest["precisions"]["fp32"]["file"],
            "parity": self.manifest.get("parity"),
            "files": self.manifest["files"],
            "kept": self.kept,
            "removed": self.removed,
        }


# Bump when the same inputs export to a different graph (2: zero RNN initial states dropped), so
# `build` re-runs the stage instead of keeping the old file.
EXPORT_VERSION = "2"


def export_fingerprint(project: Project) -> str:
    """Hash of everything the export reads; `build` skips the stage when it is unchanged."""
    from edgepack import __version__

    h = hashlib.sha256(f"{__version__}/{EXPORT_VERSION}".encode())
    model = project.section("model")
    paths = [project.path, project.tokenizer_path]
    for key in ("weights", "onnx"):
        if key in model:
            paths.append(project.file(model[key]))
    factory = model.get("factory", "")
    if factory.split(":")[0].endswith(".py"):
        paths.append(project.file(factory.split(":")[0]))
    if "hf" in model:
        paths += _input_files(project, project.file(model["hf"]))
    if "onnx" in model:
        paths += _external_data_files(project.file(model["onnx"]))
    for p in paths:
        h.update(str(p.relative_to(project.root) if p.is_relative_to(project.root) else p).encode())
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
    return h.hexdigest()


# Never inputs of an export: edgepack's own outputs and tool caches. With `hf = "."` the model folder
# is the project root, and hashing build/ and dist/ made every command rebuild everything (issue 16).
_NOT_INPUTS = frozenset({"build", "dist", ".git", ".hg", ".svn", "__pycache__", ".cache", ".pytest_cache",
                         ".mypy_cache", ".ruff_cache", ".hypothesis", ".ipynb_checkpoints", ".venv", "venv",
                         "node_modules", ".edgepack"})


def _input_files(project: Project, folder: Path) -> list[Path]:
    """The files of a model folder, less the project's outputs (build/, dist/) and tool caches anywhere in it."""
    outputs = {project.build_dir.resolve(), project.dist_dir.resolve()}
    found = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).parts
        if any(part in _NOT_INPUTS for part in rel[:-1]) or (len(rel) == 1 and rel[0] in _NOT_INPUTS):
            continue
        if p.is_file() and not any(parent in outputs for parent in p.resolve().parents):
            found.append(p)
    return sorted(found)


def _external_data_files(path: Path) -> list[Path]:
    """The data files an ONNX model keeps its weights in: a changed model.onnx.data is a changed model."""
    try:
        import onnx
        from onnx import external_data_helper as edh

        model = onnx.load(str(path), load_external_data=False)
        locations = {edh.ExternalDataInfo(t).location for t in edh._get_all_tensors(model) if edh.uses_external_data(t)}
    except Exception:  # unreadable: export names the problem; the fingerprint only has to differ
        return []
    folder = path.parent.resolve()
    found = [(folder / loc).resolve() for loc in sorted(locations) if loc]
    return [p for p in found if p.is_relative_to(folder) and p.is_file()]


def model_output(out):
    """The one tensor a text model returns: first of a tuple/list/dict, or a HF output's logits."""
    if isinstance(out, (tuple, list)):
        return out[0]
    if isinstance(out, dict):
        return next(iter(out.values()))
    return out.logits if hasattr(out, "logits") else out


def exportable(inner, add_softmax: bool):
    """The user's module as exported: positional inputs by name, softmax appended for logits."""
    import torch

    class Exportable(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            out = model_output(self.inner(*inputs))
            return torch.softmax(out, dim=-1) if add_softmax else out

    return Exportable().eval()


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to stdout -- fd 1 included -- to stderr for the block.

    torch's exporter (C++ included: "Torch IR graph at exception"), onnxscript and user model code
    print diagnostics on stdout; `--json` promises stdout holds one JSON document."""
    with contextlib.suppress(Exception):  # a closed or broken stdout: nothing to protect
        sys.stdout.flush()
    _flush_c_stdio()
    try:
        os.fstat(2)
        saved = os.dup(1)
    except OSError:  # fd 1 or 2 closed: nothing to redirect from or to
        yield
        return
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _flush_c_stdio()  # C++ code buffers: what it wrote goes to stderr, not to the restored stdout
        os.dup2(saved, 1)
        os.close(saved)


def _flush_c_stdio() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


def check_vocabulary(tokenizer: Tokenizer, rows: int | None, what: str, tokenizer_path: Path) -> None:
    """Refuse before export when the tokenizer emits ids the embedding table has no row for
    (torch would raise an IndexError deep in the export, ORT would read out of bounds)."""
    if rows is None:
        return
    vocab = tokenizer.get_vocab()
    top = max(vocab.values(), default=-1)
    if top >= rows:
        token = next(t for t, i in vocab.items() if i == top)
        raise ModelLoadError(
            f"{tokenizer_path}: tokenizer ids go up to {top} ({token!r}) but the model's embedding ({what}) has "
            f"{rows} rows (ids 0..{rows - 1}): the tokenizer is larger than the model's vocabulary. Use the "
            "tokenizer the model was trained with, or a model whose embedding has at least "
            f"{top + 1} rows (e.g. [model] args vocab_size).")


def generated_cases(vocab_size: int, pad_id: int, max_length: int, names, count: int, seed: int):
    """Random right-padded batches of varied batch size and length (first row always full)."""
    rng = np.random.default_rng(seed)
    lengths_pool = sorted({1, 2, 3, max(1, max_length // 2), max_length} | set(rng.integers(1, max_length + 1, 8).tolist()))
    for i in range(count):
        batch = int(rng.choice([1, 1, 2, 3, 4, 8, 16]))
        width = int(lengths_pool[i % len(lengths_pool)])
        ids = rng.integers(0, vocab_size, size=(batch, width), dtype=np.int64)
        ids[ids == pad_id] = (pad_id + 1) % vocab_size
        lens = rng.integers(1, width + 1, size=batch)
        lens[0] = width
        mask = (np.arange(width)[None, :] < lens[:, None]).astype(np.int64)
        ids = np.where(mask == 1, ids, pad_id)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        yield f"generated[{i}] batch={batch} len={width}", {n: feeds[n] for n in names}


def _export_onnx(module, example: dict[str, np.ndarray], names: list[str], output: str, path: Path,
                 exporter: str, opset: int | None, where: str) -> None:
    import torch

    args = tuple(torch.from_numpy(example[n]) for n in names)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if exporter == "dynamo":
                batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
                torch.onnx.export(module, args, str(path), input_names=names, output_names=[output], dynamo=True,
                                  opset_version=opset or 20, verbose=False,
                                  # forward(*inputs): torch.export keys dynamic_shapes by the varargs name
                                  dynamic_shapes={"inputs": tuple({0: batch, 1: seq} for _ in names)})
            else:
                axes = {n: {0: "batch", 1: "sequence"} for n in names}
                axes[output] = {0: "batch"}
                torch.onnx.export(module, args, str(path), input_names=names, output_names=[output], dynamo=False,
                                  opset_version=opset or 17, dynamic_axes=axes)
    except Exception as exc:
        text = str(exc)
        op = re.search(r"(?:operator|op)\s+'?([\w:.]+)'?", text)
        detail = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        named = f" (op {op.group(1)})" if op else ""
        raise ExportError(
            f"{where}: torch.onnx.export ({exporter}) failed{named}: {detail}\n"
            "Try [export] exporter = \"dynamo\" or \"torchscript\", or replace the op (e.g. pack_padded_sequence -> masks)."
        ) from None


def _consolidate(src, dst: Path, rejected=None, simplify: bool = False) -> dict:
    """Save ``src`` (a path, loaded with any external data, or a ModelProto) as one self-contained
    file: browsers fetch one URL. ``rejected(message)`` makes the checker's error (default ExportError).
    ``simplify``: apply edgepack.graph_cleanup's exact rewrites (our own exports; a user's ONNX file
    is kept as given). Returns what the rewrites did."""
    import onnx

    from edgepack.graph_cleanup import simplify as simplify_graph

    model = onnx.load(str(src), load_external_data=True) if isinstance(src, (str, Path)) else src
    done = simplify_graph(model) if simplify else {}
    for node in model.graph.node:
        # The dynamo exporter records a Python stack trace per node: ~2/3 of a small model's bytes,
        # shipped to every browser and device for nothing. Node names (used by quantization) stay.
        del node.metadata_props[:]
        node.doc_string = ""
    if model.ByteSize() < 1_800_000_000:
        onnx.save(model, str(dst))
    else:  # protobuf's 2 GB limit
        onnx.save(model, str(dst), save_as_external_data=True, location=dst.name + ".data")
    try:
        onnx.checker.check_model(str(dst), full_check=True)
    except Exception as exc:
        message = f"{dst.name}: onnx.checker rejected the exported model: {str(exc).strip()[:2000]}"
        raise (rejected or ExportError)(message) from None
    return done


_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
           "tensor(int32)": "int32"}


def io_signature(session) -> tuple[list[dict], list[dict]]:
    def sig(values):
        return [{"name": v.name, "dtype": _DTYPES.get(v.type, v.type),
                 "shape": [d if isinstance(d, int) else (d or "?") for d in v.shape]} for v in values]

    return sig(session.get_inputs()), sig(session.get_outputs())


def golden_vectors(texts: list[str], tokenizer: Tokenizer, pad_id: int, names: list[str], run,
                   precision: str) -> list[dict]:
    golden = []
    for text in texts:
        enc = tokenizer.encode(text)
        outputs = run(pad_batch([enc], pad_id, names))
        entry = {"text": text, "pair": None, "input_ids": list(enc.ids), "attention_mask": list(enc.attention_mask)}
        if "token_type_ids" in names:
            entry["token_type_ids"] = list(enc.type_ids)
        entry["outputs"] = {precision: {k: np.asarray(v[0], dtype=np.float64).round(9).tolist()
                                        for k, v in outputs.items()}}
        golden.append(entry)
    return golden


def export_project(project: Project | str | Path, out: str | Path | None = None,
                   progress: Progress = QUIET) -> ExportResult:
    """Export the project's model to ``out`` (default ``<project>/build``) and prove parity.

    Quantized models already in ``out`` are kept when the new fp32 model is byte-identical to the
    one they were made from, and removed (listed in ``ExportResult.removed``, said on stderr) otherwise."""
    with stdout_to_stderr():
        return _export(project, out, progress)


def _export(project, out, progress: Progress) -> ExportResult:
    if not isinstance(project, Project):
        project = load_project(project)
    out = Path(out) if out else project.build_dir
    model_cfg = project.section("model")
    export_cfg = project.section("export")
    hf_info = onnx_model = None
    graph_inputs: list[str] | None = None
    if "hf" in model_cfg:  # check the folder first: a missing file or remote code is named before any work
        from edgepack.hf import project_folder

        hf_info = project_folder(project)
    onnx_where = f"{project.path}: [model] onnx = {model_cfg.get('onnx')!r}"
    if "onnx" in model_cfg:  # read and check the graph before any work too
        from edgepack.onnx_source import check_onnx_io, load_onnx_source

        onnx_model = load_onnx_source(project.file(model_cfg["onnx"]), onnx_where)
        graph_inputs = check_onnx_io(onnx_model, onnx_where)
        if "inputs" in model_cfg and sorted(model_cfg["inputs"]) != sorted(graph_inputs):
            raise ProjectError(f"{onnx_where}: [model] inputs = {model_cfg['inputs']} but the graph's inputs are "
                               f"{graph_inputs}; list exactly those (or drop [model] inputs: they are read from the graph)")
    tolerance = float(export_cfg.get("tolerance", PRECISION_TOLERANCE["fp32"]))
    output = OUTPUT_NAME[project.task]
    names = list(model_cfg.get("inputs", graph_inputs or (hf_info.default_inputs if hf_info else DEFAULT_INPUTS)))
    unknown = [n for n in names if n not in ("input_ids", "attention_mask", "token_type_ids")]
    if unknown:
        raise ProjectError(f"{project.path}: [model] inputs: {unknown} not supported "
                           "(use input_ids, attention_mask, token_type_ids)")
    encoder = BatchEncoder(Tokenizer.from_file(project.tokenizer_path), names, project.max_length)
    tokenizer, pad_id = encoder.tokenizer, encoder.pad_id
    texts = project.example_texts or ["hello world"]
    example = pad_batch(tokenizer.encode_batch(texts), pad_id, names)
    fp32_name = PRECISION_FILES["fp32"]
    previous = read_build_manifest(out)
    kept: list[str] = []
    removed: list[str] = []
    source_mode = None

    with atomic_directory(out) as tmp, tempfile.TemporaryDirectory(prefix="edgepack-export-") as scratch:
        reference = None
        if onnx_model is not None:
            from edgepack.onnx_source import adapt_onnx_outputs, onnx_embedding_rows, output_mode

            rows = onnx_embedding_rows(onnx_model)
            if rows:
                check_vocabulary(tokenizer, rows[0], f"initializer {rows[1]!r} gathered by input_ids",
                                 project.tokenizer_path)
            source_mode = output_mode(onnx_model, project, model_cfg)
            with progress.step(f"copying {model_cfg['onnx']}"):
                progress.say("  " + adapt_onnx_outputs(onnx_model, project.task, source_mode, project.labels, onnx_where))
                _consolidate(onnx_model, tmp / fp32_name,
                             rejected=lambda m: ModelLoadError(f"{onnx_where}: {m}; fix the source model"))
        else:
            import torch

            with progress.step("building the PyTorch model"):
                from edgepack.sources import build_module, torch_embedding_rows

                if hf_info is not None and isinstance(hf_info.config.get("vocab_size"), int):
                    check_vocabulary(tokenizer, hf_info.config["vocab_size"],
                                     f"vocab_size in {hf_info.path / 'config.json'}", project.tokenizer_path)
                module = build_module(project)
                if hf_info is None:
                    rows = torch_embedding_rows(module, names)
                    if rows:
                        check_vocabulary(tokenizer, rows[0], f"nn.Embedding {rows[1]!r}", project.tokenizer_path)
                add_softmax = project.task == "text-classification" and model_cfg.get("output", "logits") == "logits"
                wrapped = exportable(module, add_softmax)
            exporter = export_cfg.get("exporter", "torchscript")
            with progress.step(f"exporting to ONNX ({exporter} exporter)"):
                raw = Path(scratch) / "raw.onnx"
                _export_onnx(wrapped, example, names, output, raw, exporter, export_cfg.get("opset"),
                             f"{project.path}: [model] {model_cfg.get('factory') or model_cfg.get('hf')}")
                _consolidate(raw, tmp / fp32_name, simplify=True)

            @torch.inference_mode()
            def reference(feeds):
                return {output: wrapped(*(torch.from_numpy(feeds[n]) for n in names)).numpy()}

        try:
            session = create_session(tmp / fp32_name)
        except ArtifactError as exc:
            if onnx_model is None:
                raise
            raise ModelLoadError(f"{onnx_where}: {exc}; fix the source model") from None
        session_names = [i.name for i in session.get_inputs()]
        if sorted(session_names) != sorted(names):
            lost = [n for n in names if n not in session_names]
            raise ExportError(
                f"{project.path}: [model] {model_cfg.get('factory') or model_cfg.get('onnx') or model_cfg.get('hf')}: "
                f"the exported graph does not use input(s) {lost}. forward() probably leaves the graph "
                "(.numpy(), .item(), .tolist(), Python branches on tensor values), so the traced model would "
                "return constants; keep the computation in torch ops, or list only the inputs it uses in [model] inputs."
            )
        out_names = [o.name for o in session.get_outputs()]

        def candidate(feeds):
            return dict(zip(out_names, session.run(out_names, feeds)))

        try:
            example_out = candidate(example)[output]
        except Exception as exc:  # ORT's own error types: the graph cannot run on real inputs
            raise ModelLoadError(f"{project.path}: [model] {model_cfg.get('onnx') or model_cfg.get('factory') or model_cfg.get('hf')}: "
                                 f"ONNX Runtime could not run the model on the examples: {str(exc).strip()[:500]}") from None
        _check_output(example_out, len(texts), project, output, onnx_where if onnx_model is not None else None,
                      source_mode)

        report = None
        if reference is not None:
            cases = [(f"example[{i}]", pad_batch([tokenizer.encode(t)], pad_id, names)) for i, t in enumerate(texts)]
            cases.append(("examples (batch)", example))
            count = int(export_cfg.get("parity_samples", 64))
            # Ids the tokenizer can emit: 0..largest id (get_vocab_size() counts tokens, and an added
            # token may share an id with the vocabulary, so the count can exceed the largest id + 1).
            id_space = max(tokenizer.get_vocab().values(), default=0) + 1
            cases += list(generated_cases(id_space, pad_id, project.max_length, names, count,
                                          int(export_cfg.get("seed", 0))))
            report = compare(progress.bar(cases, "parity PyTorch vs ONNX Runtime"), reference, candidate,
                             reference_name="PyTorch", candidate_name="ONNX Runtime fp32", tolerance=tolerance,
                             check_argmax=project.task == "text-classification")
            for line in report.lines():
                progress.say(line)
            report.raise_if_failed()

        shutil.copyfile(project.tokenizer_path, tmp / TOKENIZER_NAME)
        inputs, outputs = io_signature(session)
        golden_texts = list(dict.fromkeys(texts + list(GOLDEN_EXTRA_TEXTS)))
        manifest = {
            "model": {"name": project.name, "version": project.version, "task": project.task,
                      "labels": project.labels, "max_length": project.max_length,
                      "description": project.config.get("description", "")},
            "inputs": inputs,
            "outputs": outputs,
            "precisions": {"fp32": {"file": fp32_name, "tolerance": PRECISION_TOLERANCE["fp32"]}},
            "default_precision": "fp32",
            "tokenizer": {"file": TOKENIZER_NAME},
            "tools": tool_versions(),
            "golden": golden_vectors(golden_texts, tokenizer, pad_id, names, candidate, "fp32"),
            "parity": {"fp32": report.as_dict() if report else {"skipped": "ONNX source: no PyTorch reference"}},
            "examples": texts,
            "stages": {"export": {"fingerprint": export_fingerprint(project),
                                  "exporter": "onnx-file" if "onnx" in model_cfg else export_cfg.get("exporter", "torchscript")}},
        }
        if onnx_model is not None:
            manifest["stages"]["export"]["output"] = source_mode
        kept, removed, why = _carry_quantized(previous, out, tmp, manifest)
        if kept:
            progress.say(f"  fp32 model unchanged: kept {', '.join(kept)}")
        if removed:
            # Not progress: always said, so a user never loses a quantized model silently.
            print(f"note: removed {', '.join(removed)} from {out}: {why}; run `edgepack quantize` "
                  "(or `edgepack build`) to make them again", file=sys.stderr, flush=True)
        manifest = write_manifest(tmp, manifest)
    return ExportResult(build_dir=out, manifest=manifest, parity=report, kept=kept, removed=removed)


def _check_output(values, batch: int, project: Project, output: str, onnx_where: str | None,
                  mode: str | None) -> None:
    """What the model returns on the examples has edgepack's shape -- and, for an ONNX source that says
    it returns probabilities, rows that are probabilities (a project that lies is a silent wrong answer)."""
    where = onnx_where or f"{project.path}: [model]"
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[0] != batch:
        want = "[batch, n_labels]" if project.task == "text-classification" else "[batch, dim]"
        raise ModelLoadError(f"{where}: output {output!r} has shape {list(values.shape)} for a batch of {batch} "
                             f"examples; edgepack needs {want}")
    if project.task != "text-classification":
        return
    if project.labels and values.shape[1] != len(project.labels):
        raise ProjectError(f"{where}: the model returns {values.shape[1]} classes but labels lists "
                           f"{len(project.labels)} ({', '.join(project.labels)}); make them agree")
    if onnx_where is None:
        return
    sums = values.sum(axis=-1)
    bad = [i for i, s in enumerate(sums) if not abs(s - 1) <= 1e-3] + \
          [i for i in range(batch) if not ((values[i] >= -1e-6) & (values[i] <= 1 + 1e-6)).all()]
    if mode == "probabilities" and bad:
        i = bad[0]
        raise ProjectError(
            f"{where}: [model] output = \"probabilities\", but the output's rows are not probabilities: example[{i}] "
            f"sums to {float(sums[i]):.4g} (values {np.round(values[i], 4).tolist()}). If the model returns logits, set "
            "[model] output = \"logits\" and edgepack appends the softmax.")


def _carry_quantized(previous: dict | None, out: Path, tmp: Path, manifest: dict) -> tuple[list, list, str]:
    """Keep the previous quantized models when the fp32 model they came from is byte-identical.

    Returns (kept files, removed files, why removed)."""
    if not previous:
        return [], [], ""
    precisions = {p: e for p, e in (previous.get("precisions") or {}).items() if p != "fp32" and isinstance(e, dict)}
    files = [e.get("file") for e in precisions.values()]
    files = [f for f in files if isinstance(f, str) and (out / f).is_file() and "/" not in f and f != ".."]
    if not files:
        return [], [], ""
    old_fp32 = out / PRECISION_FILES["fp32"]
    same_model = old_fp32.is_file() and _same_bytes(old_fp32, tmp / PRECISION_FILES["fp32"])
    key = ("text", "input_ids", "attention_mask", "token_type_ids")
    same_inputs = [[g.get(k) for k in key] for g in previous.get("golden", [])] == \
        [[g.get(k) for k in key] for g in manifest["golden"]]
    if not same_model:
        return [], files, "the fp32 model changed, so the quantized models made from it no longer match"
    if not same_inputs:
        return [], files, "the golden inputs (examples or tokenizer) changed, so their recorded outputs are stale"
    for name in files:
        shutil.copy2(out / name, tmp / name)
    manifest["precisions"].update(precisions)
    for new, old in zip(manifest["golden"], previous.get("golden", [])):
        for p, values in (old.get("outputs") or {}).items():
            if p in precisions:
                new["outputs"][p] = values
    for p, rec in (previous.get("parity") or {}).items():
        if p in precisions:
            manifest["parity"][p] = rec
    for key in ("quantization", "targets"):
        if key in previous:
            manifest[key] = previous[key]
    for stage, rec in (previous.get("stages") or {}).items():
        if stage != "export":
            manifest["stages"][stage] = rec
    if previous.get("default_precision") in manifest["precisions"]:
        manifest["default_precision"] = previous["default_precision"]
    return files, [], ""


def _same_bytes(a: Path, b: Path) -> bool:
    import filecmp

    return a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False)


def read_build_manifest(build_dir: Path) -> dict | None:
    path = build_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
