"""The model project: a folder with ``edgepack.toml``.

Validation collects every problem and raises one :class:`ProjectError` naming the file and each
key at fault. Unknown keys are errors too (a typo must not be silently ignored). Later stages
register their own sections in :data:`SECTIONS`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepack.errors import ProjectError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "edgepack.toml"
TASKS = ("text-classification", "feature-extraction")

# section -> {key: (type or tuple of types, description)}. The README's reference mirrors this.
TOP_LEVEL = {
    "name": (str, "artifact name: letters, digits, '-', '_'"),
    "version": (str, "the model's version, e.g. 1.0.0"),
    "task": (str, "text-classification | feature-extraction"),
    "labels": (list, "class names in output order (text-classification)"),
    "max_length": (int, "longest token sequence the model accepts; tokenizer truncation is capped to it "
                        "(hf: optional, capped to the model's position embeddings)"),
    "tokenizer": (str, "path of the Hugging Face tokenizer.json (the supported subset; hf: default <hf>/tokenizer.json)"),
    "description": (str, "free text, shown on the demo page"),
}
SECTIONS: dict[str, dict[str, tuple[Any, str]]] = {
    "model": {
        "factory": (str, "'file.py:Name' or 'package.module:Name' returning an nn.Module"),
        "args": (dict, "keyword arguments for the factory"),
        "weights": (str, "safetensors (preferred) or a .pt state_dict (loaded with weights_only=True)"),
        "onnx": (str, "an existing ONNX model instead of factory + weights"),
        "hf": (str, "a Hugging Face-format folder (config.json, model.safetensors, tokenizer.json)"),
        "inputs": (list, "forward() argument names in order; default: input_ids, attention_mask"),
        "output": (str, "what forward() returns: 'logits' (softmax is added) or 'probabilities'"),
        "trust_code": (bool, "allow formats that run code on load (TorchScript, full pickles); default false"),
    },
    "export": {
        "exporter": (str, "'torchscript' (default; ONNX LSTM/GRU ops that quantize) or 'dynamo'"),
        "opset": (int, "ONNX opset (default 17 torchscript, 20 dynamo)"),
        "tolerance": (float, "max |Δ| allowed between PyTorch and ONNX Runtime fp32 (default 1e-5)"),
        "parity_samples": (int, "generated inputs checked besides the examples (default 64, minimum 64)"),
        "seed": (int, "seed for the generated parity inputs (default 0)"),
    },
    "examples": {
        "texts": (list, "example inputs: parity checks, golden vectors, demo page"),
    },
    "evaluation": {
        "file": (str, "TSV with a header 'text<TAB>label' or JSONL {\"text\", \"label\"}"),
    },
    "quantization": {
        "mode": (str, "'auto' (default), 'dynamic', 'static', 'none'"),
        "per_channel": (bool, "per-channel weight scales (default: chosen per architecture)"),
        "calibration": (str, "texts for static calibration (one per line, UTF-8)"),
        "min_agreement": (float, "top-1 agreement with fp32 on the evaluation set (default 0.99)"),
        "max_accuracy_drop": (float, "allowed accuracy drop against labels, as a fraction (default 0.01)"),
        "max_prob_delta": (float, "allowed max |Δprob| against fp32 (default: not gated, reported)"),
        "min_cosine": (float, "feature-extraction: minimum cosine to fp32 (default 0.99)"),
        "extra_precisions": (list, "also write these: 'fp16', 'int4'"),
        "exclude_nodes": (list, "ONNX node names always kept in fp32"),
        "max_slowdown": (float, "native targets get int8 only if at most this fraction slower than fp32 (default 0.05)"),
    },
    "targets": {
        "wasm": (dict, "{ precision = 'auto' | 'fp32' | 'int8' }"),
        "rpi": (dict, "{ precision = 'auto' | 'fp32' | 'int8', python = ['3.11', '3.13'] }"),
        "pyodide": (dict, "{ precision = 'auto' | 'fp32' | 'int8' }"),
    },
}


@dataclass
class Project:
    root: Path
    config: dict[str, Any]
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = self.root / CONFIG_NAME

    # -- identity
    @property
    def name(self) -> str:
        return self.config["name"]

    @property
    def version(self) -> str:
        return self.config["version"]

    @property
    def task(self) -> str:
        return self.config["task"]

    @property
    def labels(self) -> list[str]:
        return list(self.config.get("labels", []))

    @property
    def max_length(self) -> int:
        if "hf" in self.section("model"):  # optional for hf; capped to the model's positions (with a warning)
            from edgepack.hf import capped_max_length

            return capped_max_length(self)
        return int(self.config["max_length"])

    # -- files
    def file(self, rel: str) -> Path:
        return (self.root / rel).resolve()

    @property
    def tokenizer_path(self) -> Path:
        if "tokenizer" not in self.config and "hf" in self.section("model"):
            return self.file(self.section("model")["hf"]) / "tokenizer.json"
        return self.file(self.config["tokenizer"])

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.config.get(name, {}))

    @property
    def example_texts(self) -> list[str]:
        return list(self.section("examples").get("texts", []))

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def dist_dir(self) -> Path:
        return self.root / "dist"

    def evaluation_rows(self) -> list[tuple[str, str | None]]:
        """(text, label) pairs of the evaluation file; [] when there is none."""
        rel = self.section("evaluation").get("file")
        if not rel:
            return []
        return read_labelled_file(self.file(rel), f"{self.path}: [evaluation] file")


def read_labelled_file(path: Path, where: str) -> list[tuple[str, str | None]]:
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(f"{where}: {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{where}: {path} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    rows: list[tuple[str, str | None]] = []
    if path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ProjectError(f"{path}:{n}: invalid JSON ({exc.msg})") from None
            if isinstance(obj, str):
                rows.append((obj, None))
            elif isinstance(obj, dict) and isinstance(obj.get("text"), str):
                rows.append((obj["text"], obj.get("label")))
            else:
                raise ProjectError(f"{path}:{n}: expected a string or an object with a 'text' string")
        return rows
    lines = text.splitlines()
    if not lines:
        return rows
    header = lines[0].split("\t")
    if "text" not in header:
        raise ProjectError(f"{path}: the first line must be a header with a 'text' column (and optionally 'label')")
    ti, li = header.index("text"), (header.index("label") if "label" in header else None)
    for n, line in enumerate(lines[1:], 2):
        if not line:
            continue
        cols = line.split("\t")
        if len(cols) != len(header):
            raise ProjectError(f"{path}:{n}: expected {len(header)} tab-separated columns, found {len(cols)}")
        rows.append((cols[ti], cols[li] if li is not None else None))
    return rows


def _type_name(t: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table",
            bool: "true or false"}.get(t, getattr(t, "__name__", str(t)))


def _check_keys(table: dict, schema: dict, prefix: str, problems: list[str]) -> None:
    for key, value in table.items():
        if key not in schema:
            known = ", ".join(sorted(schema))
            problems.append(f"{prefix}{key}: unknown key (known: {known})")
            continue
        typ = schema[key][0]
        ok = isinstance(value, typ) and not (typ in (int, float) and isinstance(value, bool))
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            problems.append(f"{prefix}{key}: must be {_type_name(typ)}, got {type(value).__name__} {value!r}")


def validate(config: dict[str, Any], root: Path) -> list[str]:
    problems: list[str] = []
    top = {k: v for k, v in config.items() if not (isinstance(v, dict) and k in SECTIONS)}
    _check_keys(top, {**TOP_LEVEL, **{s: (dict, "") for s in SECTIONS}}, "", problems)
    for section, schema in SECTIONS.items():
        if isinstance(config.get(section), dict):
            _check_keys(config[section], schema, f"[{section}] ", problems)
    hf = isinstance(config.get("model"), dict) and "hf" in config["model"]
    for key in ("name", "version", "task", "max_length", "tokenizer"):
        if key not in config and not (hf and key in ("max_length", "tokenizer")):  # hf: from the folder
            problems.append(f"{key}: required key is missing")
    name = config.get("name")
    if isinstance(name, str) and (not name or not all(c.isalnum() or c in "-_" for c in name)):
        problems.append(f"name: {name!r} may only contain letters, digits, '-' and '_'")
    task = config.get("task")
    if isinstance(task, str) and task not in TASKS:
        problems.append(f"task: {task!r} is not supported (supported: {', '.join(TASKS)})")
    if task == "text-classification":
        labels = config.get("labels")
        if not labels:
            problems.append("labels: required for text-classification (class names in output order)")
        elif isinstance(labels, list) and not all(isinstance(l, str) and l for l in labels):
            problems.append("labels: every label must be a non-empty string")
        elif isinstance(labels, list) and len(set(labels)) != len(labels):
            problems.append("labels: labels must be unique")
    max_length = config.get("max_length")
    if isinstance(max_length, int) and not isinstance(max_length, bool) and max_length < 1:
        problems.append(f"max_length: must be at least 1, got {max_length}")
    model = config.get("model")
    if not isinstance(model, dict):
        problems.append("[model]: required section is missing (factory + weights, onnx, or hf)")
    else:
        sources = [k for k in ("factory", "onnx", "hf") if k in model]
        if len(sources) != 1:
            problems.append("[model]: set exactly one of factory (with weights), onnx, hf"
                            + (f" (found: {', '.join(sources)})" if sources else ""))
        if "factory" in model and "weights" not in model:
            problems.append("[model] weights: required with factory (a .safetensors file or a .pt state_dict)")
        output = model.get("output", "logits")
        if output not in ("logits", "probabilities", "embeddings", "token_embeddings"):
            problems.append(f"[model] output: {output!r} must be 'logits' or 'probabilities'")
        for key in ("weights", "onnx", "hf"):
            rel = model.get(key)
            if isinstance(rel, str) and not (root / rel).exists():
                problems.append(f"[model] {key}: {rel} does not exist in {root}")
        factory = model.get("factory")
        if isinstance(factory, str) and ":" not in factory:
            problems.append(f"[model] factory: {factory!r} must look like 'model.py:ClassName' or 'pkg.module:name'")
    tok = config.get("tokenizer")
    if isinstance(tok, str) and not (root / tok).is_file():
        problems.append(f"tokenizer: {tok} does not exist in {root}")
    texts = config.get("examples", {}).get("texts") if isinstance(config.get("examples"), dict) else None
    if texts is not None and not all(isinstance(t, str) for t in texts):
        problems.append("[examples] texts: every example must be a string")
    export = config.get("export", {}) if isinstance(config.get("export"), dict) else {}
    if export.get("exporter", "torchscript") not in ("torchscript", "dynamo"):
        problems.append(f"[export] exporter: {export['exporter']!r} must be 'torchscript' or 'dynamo'")
    if isinstance(export.get("parity_samples"), int) and export["parity_samples"] < 64:
        problems.append(f"[export] parity_samples: at least 64 generated inputs are checked, got {export['parity_samples']}")
    return problems


def load_project(path: str | Path) -> Project:
    """Read and validate a model project (a folder with edgepack.toml, or the toml file itself)."""
    p = Path(path)
    if p.name == CONFIG_NAME and p.is_file():
        p = p.parent
    cfg_path = p / CONFIG_NAME
    if not p.exists():
        raise ProjectError(f"{p}: no such directory")
    if not cfg_path.is_file():
        raise ProjectError(f"{cfg_path}: not found; a model project is a folder with an {CONFIG_NAME} (see the README's reference)")
    try:
        config = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{cfg_path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{cfg_path}: invalid TOML: {exc}") from None
    root = p.resolve()
    problems = validate(config, root)
    if problems:
        listing = "\n  ".join(problems)
        raise ProjectError(f"{cfg_path}: {len(problems)} problem(s):\n  {listing}")
    return Project(root=root, config=config)
