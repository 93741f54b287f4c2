"""Hugging Face-format encoder folders (BERT, DistilBERT, RoBERTa, XLM-R) as a model source.

A folder with ``config.json``, ``model.safetensors`` and ``tokenizer.json`` (and, from
sentence-transformers, ``modules.json`` / ``1_Pooling/config.json``) becomes one ``nn.Module``
whose outputs are final: L2-normalised pooled embeddings for ``feature-extraction``, logits for
``text-classification`` (export appends the softmax). Everything a runtime would otherwise have to
re-implement (pooling, normalisation) lives in the graph.

Safety: ``transformers`` is loaded strictly offline (``HF_HUB_OFFLINE``, ``local_files_only``),
never with remote code (a config with ``auto_map`` is refused before transformers sees it), and
only from safetensors (pickled ``pytorch_model.bin`` is refused). Reading the folder's metadata
(:func:`inspect_folder`) needs only the standard library, so project validation and
``Project.max_length`` stay cheap; ``transformers`` is imported only to build the module.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgepack.errors import ModelLoadError, ProjectError, UnsafeModelError
from edgepack.runtime import files

# model_type -> architectures we export. Other encoders (ALBERT, ELECTRA, ...) would mostly work the
# same way but are untested, so they are refused by name. XLM-R is RoBERTa with a SentencePiece
# vocabulary (samples/xlmr-embedder); it was refused only because nothing had tested it.
SUPPORTED = {
    "bert": ("BertModel", "BertForSequenceClassification"),
    "distilbert": ("DistilBertModel", "DistilBertForSequenceClassification"),
    "roberta": ("RobertaModel", "RobertaForSequenceClassification"),
    "xlm-roberta": ("XLMRobertaModel", "XLMRobertaForSequenceClassification"),
}
# RoBERTa-family embeddings number positions from pad_token_id + 1 (transformers'
# create_position_ids_from_input_ids): max_position_embeddings 514 addresses 512 tokens.
POSITION_OFFSET_TYPES = ("roberta", "xlm-roberta")
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len_tokens")
# sentence-transformers module classes we reproduce in the graph (matched on the class name, so
# both the 2.x "sentence_transformers.models.Pooling" and the 6.x module paths are accepted).
ST_MODULES = ("Transformer", "Pooling", "Normalize")
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean", "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


class HFLengthWarning(UserWarning):
    """max_length was capped to what the model's position embeddings allow."""


@dataclass
class HFFolder:
    """What edgepack needs to know about a folder, read without importing transformers."""

    path: Path
    config: dict[str, Any]
    model_type: str
    pooling: tuple[str, ...] = ("mean",)
    pooling_source: str = "default (no 1_Pooling/config.json)"
    st_normalize: bool = False
    st_max_seq_length: int | None = None

    @property
    def max_positions(self) -> int:
        """The longest token sequence the position embeddings can address."""
        n = int(self.config.get("max_position_embeddings", 512))
        if self.model_type in POSITION_OFFSET_TYPES:
            # RoBERTa numbers positions from padding_idx + 1 (514 embeddings -> 512 tokens).
            n -= int(self.config.get("pad_token_id", 1)) + 1
        return n

    @property
    def length_limit(self) -> tuple[int, str]:
        """(limit, why): the position embeddings, or sentence-transformers' max_seq_length if lower."""
        if self.st_max_seq_length is not None and self.st_max_seq_length < self.max_positions:
            return self.st_max_seq_length, f"max_seq_length in {self.path / 'sentence_bert_config.json'}"
        return self.max_positions, f"the model's position embeddings ({self.path / 'config.json'})"

    @property
    def takes_token_type_ids(self) -> bool:
        return self.model_type != "distilbert" and int(self.config.get("type_vocab_size", 2)) > 1

    @property
    def default_inputs(self) -> list[str]:
        return ["input_ids", "attention_mask"] + (["token_type_ids"] if self.takes_token_type_ids else [])

    @property
    def num_labels(self) -> int:
        id2label = self.config.get("id2label")
        return len(id2label) if isinstance(id2label, dict) and id2label else int(self.config.get("num_labels", 2))

    @property
    def id2label(self) -> list[str]:
        raw = self.config.get("id2label") or {}
        return [str(raw[k]) for k in sorted(raw, key=lambda k: int(k))] if isinstance(raw, dict) else []

    @property
    def has_classifier(self) -> bool:
        return any(a.endswith("ForSequenceClassification") for a in self.config.get("architectures") or [])


def _read_json(path: Path, what: str) -> Any:
    if not path.exists() and not path.is_symlink():
        raise ModelLoadError(f"{path}: missing ({what})")
    text = files.read_text(path, what, files.JSON_LIMIT, ModelLoadError)
    try:
        data = json.loads(text)
    except RecursionError:  # the C parser's own limit, before a depth check could run
        raise ModelLoadError(f"{path}: nested deeper than {files.MAX_DEPTH} levels ({what})") from None
    except ValueError as exc:  # invalid JSON, or a number too long to convert
        raise ModelLoadError(f"{path}: not valid JSON ({what}: {exc})") from None
    if files.nesting_depth(data) > files.MAX_DEPTH:
        raise ModelLoadError(f"{path}: nested deeper than {files.MAX_DEPTH} levels ({what})")
    return data


def inspect_folder(folder: str | Path, task: str = "feature-extraction") -> HFFolder:
    """Check a Hugging Face folder before anything runs: required files, no remote code, a
    supported architecture, a pooling we can put in the graph. Raises naming the file at fault."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: not a directory; [model] hf must name a Hugging Face-format folder")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(f"{folder}: config.json is missing; a Hugging Face folder needs config.json, "
                             "model.safetensors and tokenizer.json (save with model.save_pretrained(folder))")
    config = _read_json(config_path, "the model configuration")
    if not isinstance(config, dict):
        raise ModelLoadError(f"{config_path}: expected a JSON object")
    # Remote code first: such a folder is refused whatever else is wrong with it.
    if config.get("auto_map") or config.get("trust_remote_code"):
        raise UnsafeModelError(
            f"{config_path}: asks for remote code (auto_map = {config.get('auto_map')!r}); edgepack never runs "
            "code shipped with a model. Use a folder whose architecture is built into transformers "
            f"({_supported_list()}).")
    model_type = config.get("model_type")
    if model_type not in SUPPORTED:
        archs = config.get("architectures") or []
        raise ModelLoadError(
            f"{config_path}: model_type {model_type!r} (architectures {archs}) is not supported; "
            f"supported: {_supported_list()}.")
    weights = folder / "model.safetensors"
    if not weights.is_file() and not (folder / "model.safetensors.index.json").is_file():
        pickled = [n for n in ("pytorch_model.bin", "pytorch_model.bin.index.json") if (folder / n).is_file()]
        hint = (f" It has {pickled[0]}, a pickle that can run code when loaded: convert it once, where you trust it, "
                "with model.save_pretrained(folder, safe_serialization=True).") if pickled else ""
        raise ModelLoadError(f"{folder}: model.safetensors is missing (the model's weights).{hint}")
    if not (folder / "tokenizer.json").is_file():
        raise ModelLoadError(
            f"{folder}: tokenizer.json is missing; save the fast tokenizer with tokenizer.save_pretrained(folder) "
            "(a vocab.txt-only folder can be converted with transformers' BertTokenizerFast).")
    info = HFFolder(path=folder, config=config, model_type=model_type)
    _read_sentence_transformers(info)
    if task == "text-classification":
        _check_classifier(info, config_path)
    return info


def _supported_list() -> str:
    return "; ".join(f"{t} ({', '.join(a)})" for t, a in SUPPORTED.items())


def _read_sentence_transformers(info: HFFolder) -> None:
    folder = info.path
    modules_path = folder / "modules.json"
    pooling_dir = "1_Pooling"
    if modules_path.is_file():
        modules = _read_json(modules_path, "sentence-transformers modules")
        if not isinstance(modules, list):
            raise ModelLoadError(f"{modules_path}: expected a JSON array of modules")
        pooling_dir = None
        for i, mod in enumerate(modules):
            typ = str(mod.get("type", "")) if isinstance(mod, dict) else ""
            cls = typ.rsplit(".", 1)[-1]
            if not typ.startswith("sentence_transformers.") or cls not in ST_MODULES:
                raise ModelLoadError(
                    f"{modules_path}: module [{i}] type {typ!r} is not supported "
                    f"(supported: sentence-transformers {', '.join(ST_MODULES)}); a custom or Dense module "
                    "cannot be reproduced in the exported graph")
            if cls == "Transformer" and mod.get("path", "") not in ("", "."):
                raise ModelLoadError(f"{modules_path}: the Transformer module lives in {mod.get('path')!r}; "
                                     "point [model] hf at that folder instead")
            if cls == "Pooling":
                pooling_dir = mod.get("path") or "1_Pooling"
            if cls == "Normalize":
                info.st_normalize = True
        if pooling_dir is None:
            raise ModelLoadError(f"{modules_path}: has no Pooling module, so sentence-transformers returns token "
                                 "embeddings; add 1_Pooling/config.json (mean or cls) for sentence embeddings")
    pooling_path = folder / pooling_dir / "config.json" if pooling_dir else None
    if pooling_path is not None and pooling_path.is_file():
        cfg = _read_json(pooling_path, "sentence-transformers pooling")
        mode = cfg.get("pooling_mode")
        if mode is None:  # sentence-transformers < 6: one boolean per mode
            mode = [m for k, m in LEGACY_POOLING_KEYS.items() if cfg.get(k)]
        modes = (mode,) if isinstance(mode, str) else tuple(mode or ())
        bad = [m for m in modes if m not in POOLING_MODES]
        if not modes or bad:
            raise ModelLoadError(
                f"{pooling_path}: pooling {list(modes) or 'none'} is not supported; supported: {', '.join(POOLING_MODES)}")
        if cfg.get("include_prompt") is False:
            raise ModelLoadError(f"{pooling_path}: include_prompt = false (prompt tokens excluded from pooling) "
                                 "is not supported")
        info.pooling, info.pooling_source = modes, str(pooling_path)
    elif modules_path.is_file() and pooling_dir is not None:
        raise ModelLoadError(f"{modules_path}: names a Pooling module in {pooling_dir}/, but "
                             f"{folder / pooling_dir / 'config.json'} is missing")
    prompts = folder / "config_sentence_transformers.json"
    if prompts.is_file():
        cfg = _read_json(prompts, "sentence-transformers settings")
        name = cfg.get("default_prompt_name") if isinstance(cfg, dict) else None
        if name:
            # sentence-transformers prepends this prompt to every text; the exported graph cannot.
            warnings.warn(f"{prompts}: default_prompt_name = {name!r}: sentence-transformers prepends the prompt "
                          f"{(cfg.get('prompts') or {}).get(name, '')!r} to each text; edgepack does not, so "
                          "add it to your texts to get the same embeddings", stacklevel=3)
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        cfg = _read_json(st_config, "sentence-transformers settings")
        if isinstance(cfg.get("max_seq_length"), int):
            info.st_max_seq_length = cfg["max_seq_length"]
        if cfg.get("do_lower_case"):
            raise ModelLoadError(f"{st_config}: do_lower_case = true (lower-casing outside the tokenizer) is not "
                                 "supported; put a Lowercase normalizer in tokenizer.json instead")


def _check_classifier(info: HFFolder, config_path: Path) -> None:
    if not info.has_classifier:
        raise ModelLoadError(
            f"{config_path}: architectures {info.config.get('architectures')} has no sequence-classification head; "
            "text-classification needs a *ForSequenceClassification model (or use task = \"feature-extraction\")")
    problem = info.config.get("problem_type")
    if problem not in (None, "single_label_classification"):
        raise ModelLoadError(f"{config_path}: problem_type {problem!r} is not supported; text-classification "
                             "exports single-label heads (softmax over the classes)")
    if info.num_labels < 2:
        raise ModelLoadError(f"{config_path}: {info.num_labels} label(s): a regression head cannot be exported as "
                             "text-classification (softmax needs at least two classes)")


# -- the project's view ---------------------------------------------------------------------------

_warned: set[tuple[str, object]] = set()


def project_folder(project) -> HFFolder:
    """Inspect the project's [model] hf folder and check the project against it."""
    model_cfg = project.section("model")
    where = f"{project.path}: [model] hf = {model_cfg['hf']!r}"
    try:
        info = inspect_folder(project.file(model_cfg["hf"]), project.task)
    except ModelLoadError as exc:  # also UnsafeModelError: keep the class, prefix the project key
        raise type(exc)(f"{where}: {exc}") from None
    names = model_cfg.get("inputs")
    if names is not None:
        if "attention_mask" not in names or "input_ids" not in names:
            raise ProjectError(f"{project.path}: [model] inputs: a Hugging Face encoder needs input_ids and "
                               f"attention_mask (got {names})")
        if "token_type_ids" in names and not info.takes_token_type_ids:
            raise ProjectError(f"{project.path}: [model] inputs: {info.model_type} takes no token_type_ids; "
                               f"use {info.default_inputs}")
    if project.task == "text-classification":
        # The toml's own list (project.labels may fall back to config_labels: no recursion here).
        _check_labels(project, info, project.config.get("labels"))
    return info


def _id2label(info: HFFolder) -> list[str] | None:
    """config.json's id2label in id order; ids must be exactly 0..n-1. None when the config has none."""
    path = info.path / "config.json"
    raw = info.config.get("id2label")
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path}: id2label must be an object {{\"0\": \"name\", ...}}, not {type(raw).__name__}")
    ids = {}
    for key, name in raw.items():
        try:
            i = int(key)
        except (TypeError, ValueError):
            raise ModelLoadError(f"{path}: id2label key {key!r} is not a class id (0..n-1)") from None
        if not isinstance(name, str) or not name:
            raise ModelLoadError(f"{path}: id2label[{key!r}] = {name!r}: a label must be a non-empty string")
        ids[i] = name
    if sorted(ids) != list(range(len(ids))):
        raise ModelLoadError(f"{path}: id2label ids {sorted(ids)} are not 0..{len(ids) - 1}; every class "
                             "needs one id, counted from 0")
    labels = [ids[i] for i in range(len(ids))]
    if len(set(labels)) != len(labels):
        dup = sorted({label for label in labels if labels.count(label) > 1})
        raise ModelLoadError(f"{path}: id2label names {dup} more than once; labels must be unique")
    declared = info.config.get("num_labels")
    if isinstance(declared, int) and declared != len(labels):
        raise ModelLoadError(f"{path}: num_labels = {declared} but id2label has {len(labels)} entries")
    rows = _head_rows(info)
    if rows is not None and rows != len(labels):
        raise ModelLoadError(f"{path}: id2label has {len(labels)} labels but the classification head in "
                             f"{info.path / 'model.safetensors'} has {rows} outputs")
    return labels


def _head_rows(info: HFFolder) -> int | None:
    """Output rows of the classifier's last layer, read from the safetensors header (no tensor data)."""
    import struct

    path = info.path / "model.safetensors"
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 100_000_000:  # safetensors' own header limit; the loader reports it
                return None
            header = json.loads(f.read(size))
    except (OSError, struct.error, ValueError):
        return None  # a broken file is reported, named, when transformers loads it
    if not isinstance(header, dict):
        return None
    for key in ("classifier.out_proj.weight", "classifier.weight"):  # RoBERTa, XLM-R; BERT, DistilBERT
        entry = header.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("shape"), list) and entry["shape"]:
            return entry["shape"][0] if isinstance(entry["shape"][0], int) else None
    return None


def _generic(labels: list[str]) -> bool:
    return all(label == f"LABEL_{i}" for i, label in enumerate(labels))


def config_labels(project) -> list[str]:
    """The class names of a Hugging Face classifier: config.json's id2label, in id order."""
    model_cfg = project.section("model")
    where = f"{project.path}: [model] hf = {model_cfg['hf']!r}"
    try:
        info = inspect_folder(project.file(model_cfg["hf"]), project.task)
        labels = _id2label(info)
    except ModelLoadError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    if labels is None:
        raise ProjectError(f"{where}: {info.path / 'config.json'} has no id2label: list the class names in "
                           "edgepack.toml (labels = [...], in the model's output order)")
    if _generic(labels) and (str(project.path), "generic") not in _warned:
        _warned.add((str(project.path), "generic"))
        print(f"note: {info.path / 'config.json'} names its classes {', '.join(labels)} only; set labels in "
              f"{project.path.name} for readable names", file=sys.stderr, flush=True)
    return labels


def _check_labels(project, info: HFFolder, labels) -> None:
    """edgepack.toml's labels must be config.json's id2label, in the same order: a reordered list would
    ship a mislabelled model. Generic LABEL_i names in config.json carry no meaning: the toml wins."""
    if not labels:
        return
    config_path = info.path / "config.json"
    try:
        known = _id2label(info)
    except ModelLoadError as exc:
        raise type(exc)(f"{project.path}: [model] hf: {exc}") from None
    count = len(known) if known is not None else info.num_labels
    if len(labels) != count:
        raise ProjectError(f"{project.path}: labels: {len(labels)} given, but {config_path} "
                           f"has {count} classes ({', '.join(known or info.id2label)})")
    if known is None:
        return
    if _generic(known):
        key = (str(project.path), "generic-toml")
        if key not in _warned:
            _warned.add(key)
            print(f"note: {config_path} has generic labels ({', '.join(known)}); using the labels of "
                  f"{project.path.name} in that order: {', '.join(labels)}", file=sys.stderr, flush=True)
        return
    if [label.casefold() for label in labels] != [label.casefold() for label in known]:
        what = "the same labels in another order" if sorted(label.casefold() for label in labels) == \
            sorted(label.casefold() for label in known) else "different labels"
        raise ProjectError(
            f"{project.path}: labels = {labels} but {config_path} id2label is {known} ({what}): the model's "
            "outputs follow id2label, so these names would be attached to the wrong classes. List the labels in "
            "id2label order, or omit labels to take them from config.json.")


def default_inputs(project) -> list[str]:
    return project_folder(project).default_inputs


def capped_max_length(project) -> int:
    """edgepack.toml max_length, or the model's limit when unset; a longer one is capped with a warning
    (the position embeddings end there: longer inputs would crash or be garbage)."""
    info = project_folder(project)
    limit, why = info.length_limit
    requested = project.config.get("max_length")
    if requested is None:
        return limit
    requested = int(requested)
    if requested > limit:
        key = (str(project.path), requested)
        if key not in _warned:
            _warned.add(key)
            warnings.warn(f"{project.path}: max_length {requested} exceeds {why}; capped to {limit}: longer "
                          f"inputs are truncated to {limit} tokens", HFLengthWarning, stacklevel=3)
        return limit
    return requested


# -- building the module --------------------------------------------------------------------------

def _offline_env() -> None:
    # Before transformers / huggingface_hub are imported: they read these once. local_files_only
    # below covers the case where they were imported earlier.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def load_transformers_model(info: HFFolder, task: str):
    """The transformers model in fp32 eval mode; a head or encoder weight missing from the file is an error
    (transformers would silently initialise it at random)."""
    _offline_env()
    try:
        import torch
        import transformers
        from transformers import AutoModel, AutoModelForSequenceClassification
    except ImportError as exc:
        raise ModelLoadError(f"[model] hf needs the optional extra: pip install 'edgepack[hf]' ({exc})") from None
    cls = AutoModelForSequenceClassification if task == "text-classification" else AutoModel
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # the load report is ours to give, below
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    try:
        model, loading = cls.from_pretrained(
            str(info.path), local_files_only=True, trust_remote_code=False, use_safetensors=True,
            attn_implementation="eager",  # plain MatMul/Softmax attention: exports with either exporter, quantizes
            dtype=torch.float32, output_loading_info=True)
    except Exception as exc:
        raise ModelLoadError(f"{info.path}: transformers could not load the model: {type(exc).__name__}: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()
    # The base model's pooler (BertPooler) is not used by feature-extraction; sentence-transformers drops it too.
    missing = [k for k in loading.get("missing_keys", ()) if not (task != "text-classification" and ".pooler." in f".{k}")]
    mismatched = loading.get("mismatched_keys") or []
    if missing or mismatched:
        parts = ([f"missing: {', '.join(sorted(missing)[:10])}"] if missing else []) + (
            [f"mis-shaped: {', '.join(str(m[0]) if isinstance(m, (tuple, list)) else str(m) for m in mismatched[:10])}"]
            if mismatched else [])
        raise ModelLoadError(f"{info.path / 'model.safetensors'}: does not hold every weight of "
                             f"{cls.__name__} for {info.model_type} ({'; '.join(parts)}); transformers would "
                             "initialise these at random")
    return model.eval()


def build_hf_module(project):
    """The nn.Module export traces: forward(*inputs in [model] inputs order) -> embeddings or logits."""
    info = project_folder(project)
    names = list(project.section("model").get("inputs", info.default_inputs))
    model = load_transformers_model(info, project.task)
    if project.task == "text-classification":  # labels were checked against id2label by project_folder
        return HFClassifier(model, names)
    return HFEmbedder(model, names, info.pooling)


def HFEmbedder(model, names: list[str], pooling: tuple[str, ...]):  # noqa: N802 (a class factory)
    """Positional inputs (the ONNX input order) -> transformers keywords -> pooled, L2-normalised rows."""
    import torch

    class Embedder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model, self.names, self.pooling = model, list(names), tuple(pooling)

        def forward(self, *inputs):
            kw = dict(zip(self.names, inputs))
            hidden = self.model(**kw).last_hidden_state
            mask = kw["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = []
            for mode in self.pooling:
                if mode == "cls":
                    pooled.append(hidden[:, 0])  # rows are right-padded: the first token is [CLS]
                elif mode == "max":
                    pooled.append(hidden.masked_fill(mask == 0, float("-inf")).max(dim=1).values)
                else:  # mean, mean_sqrt_len_tokens: sentence-transformers' formula, clamp included
                    count = torch.clamp(mask.sum(dim=1), min=1e-9)
                    total = (hidden * mask).sum(dim=1)
                    pooled.append(total / (count if mode == "mean" else torch.sqrt(count)))
            out = pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=-1)
            # L2 in the graph (always): cosine similarity becomes a dot product on every target.
            return torch.nn.functional.normalize(out, p=2.0, dim=-1)

    return Embedder().eval()


def HFClassifier(model, names: list[str]):  # noqa: N802 (a class factory)
    import torch

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model, self.names = model, list(names)

        def forward(self, *inputs):
            return self.model(**dict(zip(self.names, inputs))).logits  # export appends the softmax

    return Classifier().eval()
