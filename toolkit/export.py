"""Stage 1: PyTorch -> ONNX, proven to give PyTorch's answers.

Writes ``<project>/build/`` atomically: model.fp32.onnx, tokenizer.json, manifest.json (with
golden vectors). Post-processing lives in the graph (softmax for classification), so every
runtime returns probabilities.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgepack.atomic import atomic_directory
from edgepack.errors import ExportError, ProjectError
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

    def as_dict(self) -> dict:
        return {
            "build_dir": str(self.build_dir),
            "skipped": self.skipped,
            "model": self.manifest["precisions"]["fp32"]["file"],
            "parity": self.manifest.get("parity"),
            "files": self.manifest["files"],
        }


def fingerprint(project: Project) -> str:
    """Hash of everything the export reads; `build` skips the stage when it is unchanged."""
    from edgepack import __version__

    h = hashlib.sha256(__version__.encode())
    model = project.section("model")
    paths = [project.path, project.tokenizer_path]
    for key in ("weights", "onnx"):
        if key in model:
            paths.append(project.file(model[key]))
    factory = model.get("factory", "")
    if factory.split(":")[0].endswith(".py"):
        paths.append(project.file(factory.split(":")[0]))
    if "hf" in model:
        paths += sorted(p for p in project.file(model["hf"]).rglob("*") if p.is_file())
    for p in paths:
        h.update(str(p.relative_to(project.root) if p.is_relative_to(project.root) else p).encode())
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
    return h.hexdigest()


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


def _consolidate(src: Path, dst: Path) -> None:
    """Load (with any external data) and save as one self-contained file: browsers fetch one URL."""
    import onnx

    model = onnx.load(str(src), load_external_data=True)
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
        raise ExportError(f"{dst.name}: onnx.checker rejected the exported model: {exc}") from None


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
    """Export the project's model to ``out`` (default ``<project>/build``) and prove parity."""
    if not isinstance(project, Project):
        project = load_project(project)
    out = Path(out) if out else project.build_dir
    model_cfg = project.section("model")
    export_cfg = project.section("export")
    hf_inputs = None
    if "hf" in model_cfg:  # check the folder first: a missing file or remote code is named before any work
        from edgepack.hf import default_inputs

        hf_inputs = default_inputs(project)
    tolerance = float(export_cfg.get("tolerance", PRECISION_TOLERANCE["fp32"]))
    output = OUTPUT_NAME[project.task]
    names = list(model_cfg.get("inputs", hf_inputs or DEFAULT_INPUTS))
    unknown = [n for n in names if n not in ("input_ids", "attention_mask", "token_type_ids")]
    if unknown:
        raise ProjectError(f"{project.path}: [model] inputs: {unknown} not supported "
                           "(use input_ids, attention_mask, token_type_ids)")
    encoder = BatchEncoder(Tokenizer.from_file(project.tokenizer_path), names, project.max_length)
    tokenizer, pad_id = encoder.tokenizer, encoder.pad_id
    texts = project.example_texts or ["hello world"]
    example = pad_batch(tokenizer.encode_batch(texts), pad_id, names)
    fp32_name = PRECISION_FILES["fp32"]

    with atomic_directory(out) as tmp, tempfile.TemporaryDirectory(prefix="edgepack-export-") as scratch:
        reference = None
        if "onnx" in model_cfg:
            with progress.stage(f"copying {model_cfg['onnx']}"):
                _consolidate(project.file(model_cfg["onnx"]), tmp / fp32_name)
        else:
            import torch

            with progress.stage("building the PyTorch model"):
                from edgepack.sources import build_module

                module = build_module(project)
                add_softmax = project.task == "text-classification" and model_cfg.get("output", "logits") == "logits"
                wrapped = exportable(module, add_softmax)
            exporter = export_cfg.get("exporter", "torchscript")
            with progress.stage(f"exporting to ONNX ({exporter} exporter)"):
                raw = Path(scratch) / "raw.onnx"
                _export_onnx(wrapped, example, names, output, raw, exporter, export_cfg.get("opset"),
                             f"{project.path}: [model] {model_cfg.get('factory') or model_cfg.get('hf')}")
                _consolidate(raw, tmp / fp32_name)

            @torch.inference_mode()
            def reference(feeds):
                return {output: wrapped(*(torch.from_numpy(feeds[n]) for n in names)).numpy()}

        session = create_session(tmp / fp32_name)
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

        report = None
        if reference is not None:
            cases = [(f"example[{i}]", pad_batch([tokenizer.encode(t)], pad_id, names)) for i, t in enumerate(texts)]
            cases.append(("examples (batch)", example))
            count = int(export_cfg.get("parity_samples", 64))
            cases += list(generated_cases(tokenizer.get_vocab_size(), pad_id, project.max_length, names, count,
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
            "stages": {"export": {"fingerprint": fingerprint(project),
                                  "exporter": "onnx-file" if "onnx" in model_cfg else export_cfg.get("exporter", "torchscript")}},
        }
        manifest = write_manifest(tmp, manifest)
    return ExportResult(build_dir=out, manifest=manifest, parity=report)


def read_build_manifest(build_dir: Path) -> dict | None:
    path = build_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
