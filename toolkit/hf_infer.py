"""A bare Hugging Face folder as a model project: everything edgepack.toml would say, inferred.

``edgepack build path/to/hf-folder`` on a folder with ``config.json`` and no ``edgepack.toml`` gets a
project whose every key is read from the folder -- name (the folder's name), task (a
``*ForSequenceClassification`` head -> text-classification; a sentence-transformers folder or a plain
encoder -> feature-extraction), labels (``id2label``), pooling (``modules.json`` /
``1_Pooling/config.json``, mean for a plain encoder), max length (the position embeddings, less
RoBERTa's offset, capped by ``sentence_bert_config.json`` and ``tokenizer_config.json``) and inputs
(``token_type_ids`` only where ``type_vocab_size`` > 1) -- and each is listed with where it came from
(:func:`describe`). What cannot be inferred is a :class:`ProjectError` naming the key to add.

Outputs go next to the folder, ``<folder>-edgepack/build`` and ``/dist``: never inside the folder the
export fingerprint reads (a downloaded snapshot stays as it was downloaded). ``edgepack init`` writes
the same project as a commented ``edgepack.toml`` (:func:`render_toml`, :func:`init_project`).
Only the standard library is used here; ``edgepack.hf`` does the folder checks.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepack import hf
from edgepack.atomic import atomic_write_bytes
from edgepack.errors import ModelLoadError, OutputError, ProjectError
from edgepack.project import CONFIG_NAME, NAME_RE, Project, _path_problem, validate

OUTPUT_SUFFIX = "-edgepack"  # <folder>-edgepack/{build,dist}, a sibling of the model folder
DEFAULT_VERSION = "0.1.0"
# Golden vectors and the demo page need a few texts; a Hub folder carries none we could trust.
DEFAULT_EXAMPLES = ["Hello, world!", "This is an example sentence.", "The weather is lovely today.",
                    "I did not enjoy this at all."]
# tokenizer_config.json's model_max_length when the tokenizer has no limit of its own (transformers'
# VERY_LARGE_INTEGER, int(1e30)): anything this large says nothing about the model.
_NO_LIMIT = 10 ** 9


@dataclass
class Inferred:
    """The inferred edgepack.toml (``config``) and, per key, where its value came from."""

    folder: Path
    config: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)


@dataclass
class InferredProject(Project):
    """A project with no edgepack.toml: the Hugging Face folder is the root and the model (hf = "."),
    and the outputs live beside it. ``path`` is the folder's config.json: messages name a real file."""

    inferred: Inferred | None = None

    def __post_init__(self) -> None:
        self.path = self.root / "config.json"

    @property
    def output_root(self) -> Path:
        return self.root.parent / f"{self.root.name}{OUTPUT_SUFFIX}"

    @property
    def build_dir(self) -> Path:
        return self.output_root / "build"

    @property
    def dist_dir(self) -> Path:
        return self.output_root / "dist"


def _name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.name).strip("-_")[:64].strip("-_")
    if not name or not NAME_RE.fullmatch(name):
        raise ProjectError(f"{folder}: cannot make an artifact name from the folder name {folder.name!r}; "
                           f"write an {CONFIG_NAME} with name = \"...\" (edgepack init {folder} writes one to edit)")
    return name


def _task(folder: Path, config: dict) -> tuple[str, str]:
    archs = config.get("architectures")
    where = folder / "config.json"
    if archs is not None and not (isinstance(archs, list) and all(isinstance(a, str) for a in archs)):
        raise ModelLoadError(f"{where}: architectures must be a list of class names, not {type(archs).__name__}")
    archs = archs or []
    if any(a.endswith("ForSequenceClassification") for a in archs):
        return "text-classification", f"{where}: architectures {archs} (a sequence-classification head)"
    if (folder / "modules.json").is_file():
        return "feature-extraction", f"{folder / 'modules.json'}: a sentence-transformers embedder"
    model_type = config.get("model_type")
    bases = hf.SUPPORTED.get(model_type, ())[:1] if isinstance(model_type, str) else ()
    if not archs or any(a in bases for a in archs):
        return "feature-extraction", f"{where}: a plain encoder ({', '.join(archs) or model_type}); pooled embeddings"
    raise ProjectError(
        f"{where}: architectures {archs} is neither a sequence classifier nor a plain encoder, so the task "
        f"cannot be inferred; write an {CONFIG_NAME} with task = \"feature-extraction\" to export the encoder "
        f"(edgepack init {folder} writes one to edit)")


def _tokenizer_limit(folder: Path) -> int | None:
    path = folder / "tokenizer_config.json"
    if not path.is_file():
        return None
    cfg = hf._read_json(path, "tokenizer settings")
    limit = cfg.get("model_max_length") if isinstance(cfg, dict) else None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit < _NO_LIMIT:
        return None
    return limit


def infer(folder: str | Path) -> Inferred:
    """The edgepack.toml a bare Hugging Face folder implies. Raises ProjectError / ModelLoadError naming
    the file and the key to add."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ProjectError(f"{folder}: not a directory; give a model project or a Hugging Face folder")
    if not (folder / "config.json").is_file():
        raise ProjectError(f"{folder}: neither {CONFIG_NAME} nor config.json; a model project is a folder with an "
                           f"{CONFIG_NAME}, or a Hugging Face folder (config.json, model.safetensors, tokenizer.json)")
    folder = folder.resolve()
    # Before any file is read: every entry a regular file or folder, none resolving outside the folder
    # (a config.json linked to /dev/zero or to another user's file is refused, not opened).
    problem = _path_problem(folder, ".", "the Hugging Face folder", "dir", False)
    if problem:
        raise ProjectError(f"{folder}: {problem}")
    config = hf._read_json(folder / "config.json", "the model configuration")
    if not isinstance(config, dict):
        raise ModelLoadError(f"{folder / 'config.json'}: expected a JSON object")
    task, task_source = _task(folder, config)
    info = hf.inspect_folder(folder, task)  # remote code, architecture, weights, tokenizer, pooling
    out: dict[str, Any] = {"name": _name(folder), "version": DEFAULT_VERSION, "task": task}
    sources = {"name": f"the folder's name ({folder.name})", "version": "default (config.json has none)",
               "task": task_source}
    if task == "text-classification":
        labels = hf._id2label(info)  # ids 0..n-1, unique, num_labels and the head's rows agree
        if labels is None:
            raise ProjectError(f"{folder / 'config.json'}: has no id2label, so the class names cannot be inferred; "
                               f"add id2label to config.json or write an {CONFIG_NAME} with labels = [...] in the "
                               "model's output order")
        out["labels"] = labels
        sources["labels"] = f"{folder / 'config.json'}: id2label" + (" (generic names)" if hf._generic(labels) else "")
    else:
        sources["pooling"] = f"{', '.join(info.pooling)} ({info.pooling_source})"
    limit, why = info.length_limit
    tok_limit = _tokenizer_limit(folder)
    if tok_limit is not None and tok_limit < limit:
        limit, why = tok_limit, f"model_max_length in {folder / 'tokenizer_config.json'}"
    out["max_length"] = limit
    sources["max_length"] = why
    out["description"] = f"{info.model_type} {task} from the Hugging Face folder {folder.name}"
    sources["description"] = "generated"
    out["model"] = {"hf": ".", "inputs": info.default_inputs}
    sources["inputs"] = (f"{folder / 'config.json'}: model_type {info.model_type!r}, type_vocab_size "
                         f"{info.config.get('type_vocab_size', 'unset')}")
    out["examples"] = {"texts": list(DEFAULT_EXAMPLES)}
    sources["examples"] = "default sentences (golden vectors, demo page)"
    return Inferred(folder=folder, config=out, sources=sources)


_described: set[str] = set()


def _validated(folder: str | Path) -> Inferred:
    inferred = infer(folder)
    problems = validate(inferred.config, inferred.folder)  # symlinks out of the folder, odd files, ...
    if problems:
        listing = "\n  ".join(problems)
        raise ProjectError(f"{inferred.folder}: as a bare Hugging Face folder (no {CONFIG_NAME}), "
                           f"{len(problems)} problem(s):\n  {listing}")
    return inferred


def load_bare(folder: str | Path, quiet: bool = False) -> InferredProject:
    """The InferredProject of a bare Hugging Face folder, validated like an edgepack.toml. What was
    inferred is printed to stderr once per process (commands load a project more than once)."""
    inferred = _validated(folder)
    if not quiet and str(inferred.folder) not in _described:
        _described.add(str(inferred.folder))
        print(describe(inferred), file=sys.stderr, flush=True)
    return InferredProject(root=inferred.folder, config=inferred.config, inferred=inferred)


def describe(inferred: Inferred, outputs: bool = True) -> str:
    """What was inferred, one key per line, with its source (printed by build and init)."""
    cfg = inferred.config
    rows = [("name", cfg["name"]), ("version", cfg["version"]), ("task", cfg["task"])]
    if "labels" in cfg:
        rows.append(("labels", ", ".join(cfg["labels"])))
    if "pooling" in inferred.sources:
        rows.append(("pooling", inferred.sources["pooling"].split(" (")[0]))
    rows += [("max_length", cfg["max_length"]), ("inputs", ", ".join(cfg["model"]["inputs"]))]
    lines = [f"inferred from {inferred.folder} (no {CONFIG_NAME}):"]
    for key, value in rows:
        source = inferred.sources.get(key, "")
        if key == "pooling":
            source = inferred.sources["pooling"].split(" (", 1)[1].rstrip(")")
        lines.append(f"  {key:<10} {value}  <- {source}")
    if outputs:
        lines.append(f"  outputs    {inferred.folder.parent / (inferred.folder.name + OUTPUT_SUFFIX)}/ (build/, dist/)")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # TOML basic strings and arrays of them: JSON's syntax


def render_toml(inferred: Inferred) -> str:
    """The inferred project as a commented edgepack.toml (hf = "."; loads back to the same keys)."""
    cfg = inferred.config
    # sources name files relative to the folder: the file must not pin where the folder was
    src = {k: v.replace(f"{inferred.folder}/", "").replace(f" ({inferred.folder})", "") for k, v in inferred.sources.items()}
    lines = [f"# Written by `edgepack init` from the Hugging Face folder {inferred.folder.name}.",
             "# Every key below was inferred; edit freely (the README's reference lists every key).",
             "# With this file, build outputs go to build/ and dist/ here; the export fingerprint skips them.",
             ""]
    for key in ("name", "version", "task", "labels", "max_length", "description"):
        if key in cfg:
            lines += [f"# {key}: {src.get(key, '')}", f"{key} = {_toml_value(cfg[key])}"]
    lines += ["", "[model]", "hf = \".\"                          # this folder: config.json, model.safetensors, tokenizer.json",
              f"# inputs: {src['inputs']}", f"inputs = {_toml_value(cfg['model']['inputs'])}"]
    if "pooling" in src:
        lines.append(f"# pooling: {src['pooling']}; it is read from the folder, not set here")
    lines += ["", "[examples]", f"# {src['examples']}: replace them with texts of your own",
              "texts = [", *(f"    {_toml_value(t)}," for t in cfg["examples"]["texts"]), "]", "",
              "# [evaluation]", "# file = \"heldout.tsv\"           # text<TAB>label rows: the INT8 gate then uses real data", ""]
    return "\n".join(lines)


def init_project(folder: str | Path, force: bool = False) -> tuple[Path, Inferred]:
    """Write ``<folder>/edgepack.toml`` from the folder; refuses to replace one unless ``force``.
    Written through edgepack.atomic, checked to read back as the inferred project before it is."""
    folder = Path(folder)
    target = folder / CONFIG_NAME
    if (target.exists() or target.is_symlink()) and not force:
        raise OutputError(f"{target}: already exists; edit it, or pass --force to replace it with the inferred one")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise OutputError(f"{target}: is not a regular file; remove it first")
    inferred = _validated(folder)
    text = render_toml(inferred)
    if tomllib.loads(text) != inferred.config:  # the file must say exactly what was inferred
        raise AssertionError(f"edgepack init: the rendered {CONFIG_NAME} does not read back as the inferred project")
    try:
        atomic_write_bytes(inferred.folder / CONFIG_NAME, text.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"{inferred.folder}: cannot write {CONFIG_NAME} here ({exc.strerror})") from None
    return inferred.folder / CONFIG_NAME, inferred
