"""The model project: a folder with ``edgepack.toml``.

Validation collects every problem and raises one :class:`ProjectError` naming the file and each
key at fault. Unknown keys are errors too (a typo must not be silently ignored). Later stages
register their own sections in :data:`SECTIONS`.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepack.errors import ProjectError
from edgepack.runtime import files
from edgepack.runtime.tokenizer._spec import MAX_LENGTH

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
    "labels": (list, "class names in output order (text-classification; hf: default config.json's id2label)"),
    "max_length": (int, "longest token sequence the model accepts; tokenizer truncation is capped to it "
                        "(hf: optional, capped to the model's position embeddings)"),
    "tokenizer": (str, "path of the Hugging Face tokenizer.json (the supported subset; hf: default <hf>/tokenizer.json)"),
    "description": (str, "free text, shown on the demo page"),
    "allow_outside_paths": (bool, "let model, tokenizer and data paths point outside the project folder "
                                  "(default false: every path must resolve inside it)"),
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
# Keys inside each [targets] table, and the values enum-like keys may take anywhere.
PRECISION_CHOICES = ("auto", "fp32", "int8")
TARGET_KEYS: dict[str, dict[str, tuple[Any, str]]] = {
    "wasm": {"precision": (str, "auto | fp32 | int8")},
    "pyodide": {"precision": (str, "auto | fp32 | int8")},
    "rpi": {"precision": (str, "auto | fp32 | int8"), "python": (list, "'3.11' and/or '3.13'")},
}
RPI_PYTHONS = ("3.11", "3.13")
CHOICES = {
    ("model", "output"): ("logits", "probabilities", "embeddings", "token_embeddings"),
    ("export", "exporter"): ("torchscript", "dynamo"),
    ("quantization", "mode"): ("auto", "dynamic", "static", "none"),
}
LIST_CHOICES = {
    ("model", "inputs"): ("input_ids", "attention_mask", "token_type_ids"),
    ("quantization", "extra_precisions"): ("fp16", "int4"),
    ("quantization", "exclude_nodes"): None,  # any strings
    ("examples", "texts"): None,
}
# Numbers: (section or None for top level, key) -> (lowest, highest); both inclusive. NaN and inf
# are refused everywhere (a NaN tolerance would make every comparison pass).
RANGES = {
    (None, "max_length"): (1, MAX_LENGTH),
    ("export", "opset"): (7, 30),
    ("export", "tolerance"): (0.0, 1.0),
    ("export", "parity_samples"): (64, 100_000),
    ("export", "seed"): (0, 2 ** 32 - 1),
    ("quantization", "min_agreement"): (0.0, 1.0),
    ("quantization", "max_accuracy_drop"): (0.0, 1.0),
    ("quantization", "max_prob_delta"): (0.0, 1.0),
    ("quantization", "min_cosine"): (-1.0, 1.0),
    ("quantization", "max_slowdown"): (0.0, 100.0),
}
# Files a project points at: (section or None, key, "file" | "dir"). The hf folder's files are
# checked one by one too (fingerprinting and loading read them all).
PATH_KEYS = (
    (None, "tokenizer", "file"),
    ("model", "weights", "file"),
    ("model", "onnx", "file"),
    ("model", "factory", "file"),  # its 'file.py' part, when it names a file
    ("model", "hf", "dir"),
    ("evaluation", "file", "file"),
    ("quantization", "calibration", "file"),
)
HF_MAX_ENTRIES = 10_000  # files + folders walked in an hf folder; real ones hold < 20
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")  # it becomes part of file names


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
        if ("labels" not in self.config and self.task == "text-classification"
                and "hf" in self.section("model")):  # optional for hf: config.json's id2label, in id order
            from edgepack.hf import config_labels

            return list(config_labels(self))
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

    text = files.read_text(path, where, files.TEXT_LIMIT, ProjectError)
    rows: list[tuple[str, str | None]] = []
    if path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ProjectError(f"{path}:{n}: invalid JSON ({exc.msg})") from None
            except (RecursionError, ValueError) as exc:  # deep nesting; a 5,000-digit number
                raise ProjectError(f"{path}:{n}: invalid JSON ({type(exc).__name__}: nested too deep "
                                   "or a number too long)") from None
            if isinstance(obj, str):
                rows.append((obj, None))
            elif isinstance(obj, dict) and isinstance(obj.get("text"), str):
                label = obj.get("label")
                if label is not None and not isinstance(label, str):
                    raise ProjectError(f"{path}:{n}: 'label' must be a string (one of the project's labels)")
                rows.append((obj["text"], label))
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


def _show(value: Any) -> str:
    """A value quoted in a message, cut to a readable length (a 1 MiB string is not echoed)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_keys(table: dict, schema: dict, prefix: str, problems: list[str]) -> None:
    for key, value in table.items():
        if key not in schema:
            known = ", ".join(sorted(schema))
            problems.append(f"{prefix}{_show(key)[1:-1]}: unknown key (known: {known})")
            continue
        typ = schema[key][0]
        ok = isinstance(value, typ) and not (typ in (int, float) and isinstance(value, bool))
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            problems.append(f"{prefix}{key}: must be {_type_name(typ)}, got {type(value).__name__} {_show(value)}")


def _table(config: dict, section: str | None) -> dict:
    if section is None:
        return config
    value = config.get(section)
    return value if isinstance(value, dict) else {}


def _label(section: str | None, key: str) -> str:
    return f"[{section}] {key}" if section else key


def _check_values(config: dict, problems: list[str]) -> None:
    """Enum-like keys, list items and number ranges, wherever the type itself was right."""
    for (section, key), choices in CHOICES.items():
        value = _table(config, section).get(key)
        if isinstance(value, str) and value not in choices:
            problems.append(f"{_label(section, key)}: {_show(value)} is not one of {', '.join(choices)}")
    for (section, key), choices in LIST_CHOICES.items():
        value = _table(config, section).get(key)
        if not isinstance(value, list):
            continue  # a wrong type is reported by _check_keys
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            problems.append(f"{_label(section, key)}: every item must be a string, got {_show(bad[0])}")
        elif choices is not None and any(v not in choices for v in value):
            wrong = [v for v in value if v not in choices]
            problems.append(f"{_label(section, key)}: {_show(wrong)} unknown (choose from {', '.join(choices)})")
        elif choices is not None and len(set(value)) != len(value):
            problems.append(f"{_label(section, key)}: an item is listed twice")
    for (section, key), (low, high) in RANGES.items():
        value = _table(config, section).get(key)
        if not _is_number(value):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{_label(section, key)}: must be a finite number, got {value}")
        elif value < low:
            problems.append(f"{_label(section, key)}: must be at least {low}, got {_show(value)}")
        elif value > high:
            problems.append(f"{_label(section, key)}: must be at most {high}, got {_show(value)}")
    targets = config.get("targets")
    for target, table in (targets.items() if isinstance(targets, dict) else ()):
        if target not in TARGET_KEYS or not isinstance(table, dict):
            continue  # unknown target / not a table: reported by _check_keys
        _check_keys(table, TARGET_KEYS[target], f"[targets] {target}.", problems)
        precision = table.get("precision")
        if isinstance(precision, str) and precision not in PRECISION_CHOICES:
            problems.append(f"[targets] {target}.precision: {_show(precision)} is not one of "
                            f"{', '.join(PRECISION_CHOICES)}")
        pythons = table.get("python")
        if isinstance(pythons, list):
            if not pythons or any(v not in RPI_PYTHONS for v in pythons):
                problems.append(f"[targets] {target}.python: {_show(pythons)} must list versions from "
                                f"{', '.join(repr(v) for v in RPI_PYTHONS)} (strings)")
            elif len(set(pythons)) != len(pythons):
                problems.append(f"[targets] {target}.python: a version is listed twice")


def _path_problem(root: Path, rel: str, label: str, want: str, allow_outside: bool) -> str | None:
    """Why ``rel`` (a project path) is unsafe, or None. Only stat/lstat: nothing is opened, so a FIFO
    cannot block and /dev/zero is never read."""
    shown = _show(rel)[1:-1]
    if not rel.strip():
        return f"{label}: is empty; give a path inside the project folder"
    if "\0" in rel:
        return f"{label}: {shown}: a path cannot contain a NUL character"
    joined = root / rel
    try:
        st = os.stat(joined)
        real = Path(os.path.realpath(joined))
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"{label}: {shown} does not exist in {root}"
        return f"{label}: {shown}: {files.os_problem(exc)}"
    except ValueError as exc:
        return f"{label}: {shown}: invalid path ({exc})"
    if not allow_outside and not real.is_relative_to(root):
        return (f"{label}: {shown} resolves to {real}, outside the project folder {root}; copy it into the project "
                "(or set allow_outside_paths = true at the top of edgepack.toml to allow paths outside it)")
    if want == "dir":
        if not stat.S_ISDIR(st.st_mode):
            return f"{label}: {shown} is {files.kind_of(st.st_mode)}, not a folder; point it at the model folder"
        return _folder_problem(root, real, label, allow_outside)
    if not stat.S_ISREG(st.st_mode):
        return f"{label}: {shown} is {files.kind_of(st.st_mode)}, not a regular file; point it at the file itself"
    return None


def _folder_problem(root: Path, folder: Path, label: str, allow_outside: bool) -> str | None:
    """Every entry of an hf folder: regular files and folders, inside the project (symlinks resolved).
    Symlinked folders are checked but not walked, as pathlib's rglob does not walk them."""
    pending, seen = [folder], 0
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            return f"{label}: {current}: {files.os_problem(exc)}"
        for entry in entries:
            seen += 1
            if seen > HF_MAX_ENTRIES:
                return f"{label}: {folder} holds more than {HF_MAX_ENTRIES} files; point it at the model folder itself"
            path = Path(entry.path)
            try:
                st = os.stat(path)
                real = Path(os.path.realpath(path))
            except OSError as exc:
                return f"{label}: {path}: {files.os_problem(exc)} (a broken symlink?)"
            if not allow_outside and not real.is_relative_to(root):
                return (f"{label}: {path} resolves to {real}, outside the project folder {root}; copy the file in "
                        "(or set allow_outside_paths = true at the top of edgepack.toml)")
            if stat.S_ISDIR(st.st_mode):
                if not entry.is_symlink():
                    pending.append(path)
            elif not stat.S_ISREG(st.st_mode):
                return f"{label}: {path} is {files.kind_of(st.st_mode)}; the folder may hold only regular files"
    return None


def _check_paths(config: dict, root: Path, problems: list[str]) -> None:
    allow_outside = config.get("allow_outside_paths") is True
    for section, key, want in PATH_KEYS:
        rel = _table(config, section).get(key)
        if not isinstance(rel, str):
            continue
        label = _label(section, key)
        if key == "factory":
            rel = rel.rpartition(":")[0]
            if not rel.endswith(".py"):
                continue  # a module name: found on sys.path, like any import
            label = "[model] factory"
        problem = _path_problem(root, rel, label, want, allow_outside)
        if problem:
            problems.append(problem)


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
    if isinstance(name, str) and not NAME_RE.fullmatch(name):
        problems.append(f"name: {_show(name)} may only contain letters, digits, '-' and '_' (at most 64, "
                        "starting with a letter or digit)")
    version = config.get("version")
    if isinstance(version, str) and not VERSION_RE.fullmatch(version):
        problems.append(f"version: {_show(version)} may only contain letters, digits, '.', '+', '-' and '_' "
                        "(at most 64): it becomes part of file names")
    task = config.get("task")
    if isinstance(task, str) and task not in TASKS:
        problems.append(f"task: {_show(task)} is not supported (supported: {', '.join(TASKS)})")
    labels = config.get("labels")
    if task == "text-classification" and not labels and not (hf and "labels" not in config):
        problems.append("labels: required for text-classification (class names in output order)"
                        + ("; omit it to use config.json's id2label" if hf else ""))
    elif isinstance(labels, list) and not all(isinstance(label, str) and label for label in labels):
        problems.append("labels: every label must be a non-empty string")
    elif isinstance(labels, list) and len(set(labels)) != len(labels):
        problems.append("labels: labels must be unique")
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
        factory = model.get("factory")
        if isinstance(factory, str) and ":" not in factory:
            problems.append(f"[model] factory: {_show(factory)} must look like 'model.py:ClassName' or 'pkg.module:name'")
    _check_values(config, problems)
    _check_paths(config, root, problems)
    return problems


def load_project(path: str | Path) -> Project:
    """Read and validate a model project (a folder with edgepack.toml, or the toml file itself)."""
    p = Path(path)
    try:
        if p.name == CONFIG_NAME and p.is_file():
            p = p.parent
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as exc:  # a name too long for the file system, a symlink loop
        raise ProjectError(f"{_show(str(p))[1:-1]}: {files.os_problem(exc)}") from None
    except ValueError as exc:
        raise ProjectError(f"{_show(str(p))}: invalid path ({exc})") from None
    cfg_path = p / CONFIG_NAME
    if not exists:
        raise ProjectError(f"{p}: no such directory")
    if not is_dir:
        raise ProjectError(f"{p}: not a directory; a model project is a folder with an {CONFIG_NAME}")
    try:
        present = cfg_path.exists()
    except OSError:
        present = False
    if not present and (p / "config.json").exists():  # a bare Hugging Face folder: everything inferred
        from edgepack.hf_infer import load_bare

        return load_bare(p)
    if not present:
        raise ProjectError(f"{cfg_path}: not found; a model project is a folder with an {CONFIG_NAME} (see the README's "
                           "reference), or a Hugging Face folder with config.json")
    text = files.read_text(cfg_path, str(cfg_path), files.CONFIG_LIMIT, ProjectError)
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{cfg_path}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per nested array / inline table
        raise ProjectError(f"{cfg_path}: nested deeper than {files.MAX_DEPTH} levels; edgepack.toml needs 3") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise ProjectError(f"{cfg_path}: invalid TOML: {exc}") from None
    if files.nesting_depth(config) > files.MAX_DEPTH:
        raise ProjectError(f"{cfg_path}: nested deeper than {files.MAX_DEPTH} levels; edgepack.toml needs 3")
    root = p.resolve()
    problems = validate(config, root)
    if problems:
        listing = "\n  ".join(problems)
        raise ProjectError(f"{cfg_path}: {len(problems)} problem(s):\n  {listing}")
    return Project(root=root, config=config)
