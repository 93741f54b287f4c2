"""Building the PyTorch module a project describes, safely.

Model sources, in order of safety: an ONNX file (no torch at all); ``factory`` + safetensors
weights; a Hugging Face-format folder (edgepack.hf); a ``.pt`` state_dict loaded with
``torch.load(weights_only=True)``. Formats that execute code on load (TorchScript archives,
``.pt2`` programs, full pickles) are refused unless ``[model] trust_code = true``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

from edgepack.errors import ModelLoadError, ProjectError, UnsafeModelError
from edgepack.project import Project

CODE_FORMATS = (".pt2", ".ts", ".torchscript", ".jit")


def import_factory(project: Project):
    spec = project.section("model")["factory"]
    where = f"{project.path}: [model] factory = {spec!r}"
    target, _, attr = spec.rpartition(":")
    try:
        if target.endswith(".py"):
            path = project.file(target)
            if not path.is_file():
                raise ModelLoadError(f"{where}: {path} does not exist")
            # A unique module name per file, so two projects' model.py never collide.
            mod_name = "edgepack_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
            module_spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[mod_name] = module
            sys.path.insert(0, str(path.parent))  # let model.py import its siblings
            try:
                module_spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(path.parent))
        else:
            module = importlib.import_module(target)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{where}: importing {target} failed: {type(exc).__name__}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        raise ModelLoadError(f"{where}: {target} has no attribute {attr!r} (it has: {', '.join(public)})") from None


def build_module(project: Project):
    """The project's nn.Module in eval mode, weights loaded and checked."""
    model_cfg = project.section("model")
    if "hf" in model_cfg:
        from edgepack.hf import build_hf_module  # optional extra; issue-8 territory

        return build_hf_module(project)
    factory = import_factory(project)
    args = model_cfg.get("args", {})
    try:
        module = factory(**args)
    except Exception as exc:
        raise ModelLoadError(
            f"{project.path}: [model] factory {model_cfg['factory']!r} failed with args {args}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    import torch

    if not isinstance(module, torch.nn.Module):
        raise ModelLoadError(f"{project.path}: [model] factory returned {type(module).__name__}, not a torch.nn.Module")
    state = load_state_dict(project.file(model_cfg["weights"]), trust_code=model_cfg.get("trust_code", False))
    apply_state_dict(module, state, project.file(model_cfg["weights"]))
    return module.eval()


def load_state_dict(path: Path, trust_code: bool = False) -> dict[str, Any]:
    import torch

    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as exc:
            raise ModelLoadError(f"{path}: not a readable safetensors file ({_first_line(exc)}); the file is "
                                 "truncated or corrupt: save the weights again with safetensors.torch.save_file") from None
        _check_tensors(state, path)
        return state
    if suffix in CODE_FORMATS and not trust_code:
        raise UnsafeModelError(
            f"{path}: {suffix} files run code when loaded and are refused. Save a state_dict as "
            "safetensors instead, or set [model] trust_code = true if you trust this file."
        )
    if _is_torchscript_archive(path) and not trust_code:
        raise UnsafeModelError(
            f"{path}: is a TorchScript archive (code runs when it loads) and is refused. Save "
            "model.state_dict() with safetensors, or set [model] trust_code = true if you trust this file."
        )
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=not trust_code)
    except Exception as exc:
        if not trust_code and ("weights_only" in str(exc) or isinstance(exc, pickle.UnpicklingError)):
            raise UnsafeModelError(
                f"{path}: refused -- its pickle asks to run code or build objects beyond tensors "
                f"({_first_line(exc)}). Convert it to a safetensors state_dict, or set "
                "[model] trust_code = true if you trust this file."
            ) from None
        raise ModelLoadError(f"{path}: could not be read as a PyTorch state_dict: {_first_line(exc)}") from None
    if hasattr(state, "state_dict") and not isinstance(state, dict):
        state = state.state_dict()
    if not isinstance(state, dict):
        raise ModelLoadError(f"{path}: holds a {type(state).__name__}, expected a state_dict (a dict of tensors)")
    _check_tensors(state, path)
    return state


def _check_tensors(state: dict, path: Path) -> None:
    """A state_dict maps names to tensors; a checkpoint ({"model": {...}, "epoch": 3}) is not one."""
    import torch

    for key, value in state.items():
        if not isinstance(key, str):
            raise ModelLoadError(f"{path}: key {key!r} is a {type(key).__name__}; a state_dict's keys are "
                                 "parameter names (strings)")
        if isinstance(value, dict):
            raise ModelLoadError(
                f"{path}: key {key!r} holds a nested dict, so this is a training checkpoint, not a state_dict; "
                f"save the model's weights alone: torch.save(checkpoint[{key!r}], ...) or safetensors")
        if not isinstance(value, torch.Tensor):
            raise ModelLoadError(f"{path}: key {key!r} holds a {type(value).__name__}, not a tensor; save "
                                 "model.state_dict() (tensors only), e.g. with safetensors")
        if value.is_sparse or value.is_quantized or value.is_complex():
            raise ModelLoadError(f"{path}: key {key!r} is a {value.layout}/{value.dtype} tensor; edgepack loads "
                                 "dense real-valued weights (export the float model, quantize with edgepack)")


def apply_state_dict(module, state: dict[str, Any], path: Path) -> None:
    """Load weights strictly; one error lists every missing, unexpected and mis-shaped key."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append("missing keys: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected keys: " + ", ".join(unexpected))
        if shapes:
            parts.append("mis-shaped: " + "; ".join(shapes))
        raise ModelLoadError(
            f"{path}: weights do not fit the model built by the factory:\n  " + "\n  ".join(parts)
            + "\nCheck [model] args (sizes) and that the weights belong to this model."
        )
    module.load_state_dict(state, strict=True)


def _is_torchscript_archive(path: Path) -> bool:
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("/constants.pkl") or "/code/" in n for n in zf.namelist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):  # torch.load then names what is wrong
        return False


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- ONNX files as a source ------------------------------------------------------------------------

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_IO_OPS = {"Cast", "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}  # ops that keep ids as ids


def load_onnx_source(path: Path, where: str):
    """The ModelProto at ``path`` with its external data, or a ModelLoadError naming the file.

    External data is checked before onnx reads it: every location must be a regular file in the
    model's own folder (onnx refuses the rest too, but with a traceback-shaped message)."""
    import onnx
    from onnx import external_data_helper as edh

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, or anything else a corrupt file provokes
        raise ModelLoadError(
            f"{where}: {path.name} is not a readable ONNX model ({_first_line(exc)}); the file is truncated, "
            "corrupt or not ONNX: export it again (torch.onnx.export) and copy it whole") from None
    if not model.HasField("graph"):
        raise ModelLoadError(f"{where}: {path.name} holds no graph: it is empty or not an ONNX model; export the "
                             "model again (torch.onnx.export) and copy it whole")
    folder = path.parent.resolve()
    try:
        tensors = list(edh._get_all_tensors(model))
    except Exception as exc:
        raise ModelLoadError(f"{where}: {path.name}: malformed ONNX graph ({_first_line(exc)})") from None
    external = [t for t in tensors if edh.uses_external_data(t)]
    for tensor in external:
        location = edh.ExternalDataInfo(tensor).location
        target = (folder / location).resolve() if location else folder
        if not location or not target.is_relative_to(folder) or target == folder:
            raise ModelLoadError(
                f"{where}: {path.name}: tensor {tensor.name!r} keeps its data in {location!r}, outside the model's "
                f"folder {path.parent}; edgepack reads external data only from files next to the model. Move the "
                "data file next to the model (or save the model as one file) and export again.")
        if not target.is_file():
            raise ModelLoadError(f"{where}: {path.name}: tensor {tensor.name!r} keeps its data in {location!r}, "
                                 "which is missing or not a regular file; copy it next to the model")
    if external:
        try:
            edh.load_external_data_for_model(model, str(folder))
        except Exception as exc:
            raise ModelLoadError(f"{where}: {path.name}: its external data could not be read "
                                 f"({_first_line(exc)}); the data file is truncated or does not belong to this model") from None
    return model


def graph_inputs(model) -> list[str]:
    """Real inputs (old IR versions also list initializers as inputs)."""
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def check_onnx_io(model, where: str) -> list[str]:
    """The graph's inputs in edgepack's order; refuses graphs edgepack cannot feed or read."""
    names = graph_inputs(model)
    if not names:
        raise ModelLoadError(f"{where}: the graph has no inputs; edgepack feeds {', '.join(MODEL_INPUTS[:2])} "
                             "(and token_type_ids): export the model with those inputs")
    unknown = [n for n in names if n not in MODEL_INPUTS]
    if unknown:
        raise ModelLoadError(f"{where}: graph input(s) {unknown} are not ones edgepack feeds; name the inputs "
                             f"{', '.join(MODEL_INPUTS)} (int64 [batch, sequence]) when exporting")
    if "input_ids" not in names:
        raise ModelLoadError(f"{where}: the graph has no input_ids input (it has {names}); export it with input_ids")
    if not model.graph.output:
        raise ModelLoadError(f"{where}: the graph has no outputs; export the model with its logits, probabilities "
                             "or embeddings as the output")
    return [n for n in MODEL_INPUTS if n in names]


def _shape(value) -> list | None:
    t = value.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]


def _rename(graph, old: str, new: str) -> None:
    """Rename a tensor everywhere it is used, subgraphs (If/Loop bodies) included."""
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                _rename(sub, old, new)
    for coll in (graph.output, graph.value_info, graph.input):
        for v in coll:
            if v.name == old:
                v.name = new
    for t in graph.initializer:
        if t.name == old:
            t.name = new


def _all_names(graph) -> set[str]:
    names = {v.name for v in list(graph.input) + list(graph.output) + list(graph.value_info)}
    names |= {t.name for t in graph.initializer}
    for node in graph.node:
        names |= set(node.input) | set(node.output)
    return names


def _free(graph, name: str) -> None:
    """Make ``name`` unused so a new output can take it."""
    taken = _all_names(graph)
    if name in taken:
        i = 0
        while f"{name}__source{i}" in taken:
            i += 1
        _rename(graph, name, f"{name}__source{i}")


def _opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def adapt_onnx_outputs(model, task: str, output: str, labels: list[str], where: str) -> str:
    """Give the graph edgepack's one output: ``probabilities`` [batch, n_labels] (a Softmax appended to
    logits) or ``embeddings`` [batch, dim]. Returns what was done, for the progress report."""
    import onnx
    from onnx import helper

    graph = model.graph
    want = "probabilities" if task == "text-classification" else "embeddings"
    outs = list(graph.output)
    if len(outs) > 1:
        preferred = [o for o in outs if o.name in ((output, want) if task == "text-classification" else (want,))]
        if len(preferred) != 1:
            raise ModelLoadError(
                f"{where}: the graph has {len(outs)} outputs ({', '.join(o.name for o in outs)}) and none is named "
                f"{(output if task == 'text-classification' else want)!r}; edgepack reads one output: export only "
                f"the {'logits' if task == 'text-classification' else 'pooled embeddings'}, or name that output "
                f"{(output if task == 'text-classification' else want)!r}")
        del graph.output[:]
        graph.output.append(preferred[0])
    source = graph.output[0]
    if source.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        kind = onnx.TensorProto.DataType.Name(source.type.tensor_type.elem_type) if source.type.HasField("tensor_type") \
            else source.type.WhichOneof("value")
        raise ModelLoadError(f"{where}: output {source.name!r} is {kind}; edgepack needs a float32 tensor "
                             "(export the model in float32; edgepack quantizes it later)")
    shape = _shape(source)
    if shape is not None and len(shape) != 2:
        what = "[batch, n_labels]" if task == "text-classification" else "[batch, dim] (one pooled vector per text)"
        hint = " -- token embeddings: pool them in the graph (mean over attention_mask) before export" \
            if task == "feature-extraction" and len(shape) == 3 else ""
        raise ModelLoadError(f"{where}: output {source.name!r} has shape {shape}, edgepack needs {what}{hint}")
    if task == "text-classification" and shape and isinstance(shape[1], int) and shape[1] and labels \
            and shape[1] != len(labels):
        raise ProjectError(f"{where}: output {source.name!r} has {shape[1]} classes but labels lists {len(labels)}")
    if task == "text-classification" and output == "logits":
        if source.name == want:
            _rename(graph, want, "logits")
        _free(graph, want)
        logits = source.name
        # Before opset 13 Softmax flattens to 2-D around `axis`: on a [batch, n] tensor axis 1 is the same.
        axis = -1 if _opset(model) >= 13 else 1
        graph.node.append(helper.make_node("Softmax", [logits], [want], axis=axis, name="edgepack_softmax"))
        del graph.output[:]
        graph.output.append(helper.make_tensor_value_info(want, onnx.TensorProto.FLOAT, shape or ["batch", None]))
        return f"appended Softmax over the last axis of {logits!r} -> {want!r}"
    if source.name != want:
        old = source.name
        _free(graph, want)
        _rename(graph, old, want)
        return f"renamed output {old!r} -> {want!r}"
    return f"output {want!r} used as is"


def onnx_embedding_rows(model) -> tuple[int, str] | None:
    """Rows of the embedding table input_ids index (a Gather on an initializer), if findable."""
    inits = {t.name: t for t in model.graph.initializer}
    ids, frontier = {"input_ids"}, ["input_ids"]
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    while frontier:
        name = frontier.pop()
        for node in consumers.get(name, []):
            if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == name \
                    and node.input[0] in inits and inits[node.input[0]].dims:
                return int(inits[node.input[0]].dims[0]), node.input[0]
            if node.op_type in _IO_OPS and node.input[0] == name:
                for o in node.output:
                    if o not in ids:
                        ids.add(o)
                        frontier.append(o)
    return None


def torch_embedding_rows(module, names: list[str]) -> tuple[int, str] | None:
    """(num_embeddings, module name) of the first nn.Embedding fed by input_ids itself.

    Found by running the module once on a tiny all-zero batch (every table has row 0) with hooks; a
    model that fails that run, or feeds a transformed tensor, falls back to the first Embedding."""
    import torch

    embeddings = [(n, m) for n, m in module.named_modules() if isinstance(m, torch.nn.Embedding)]
    if not embeddings:
        return None
    feeds = [torch.ones((1, 2), dtype=torch.long) if n == "attention_mask" else torch.zeros((1, 2), dtype=torch.long)
             for n in names]
    ids = feeds[names.index("input_ids")] if "input_ids" in names else None
    found: list[tuple[int, str]] = []

    def hook(name):
        def pre(mod, args):
            if args and args[0] is ids:
                found.append((mod.num_embeddings, name))
        return pre

    handles = [m.register_forward_pre_hook(hook(name)) for name, m in embeddings]
    try:
        with torch.inference_mode():
            module(*feeds)
    except Exception:  # the real export reports the model's own failure, with context
        pass
    finally:
        for h in handles:
            h.remove()
    if found:
        return found[0]
    name, first = embeddings[0]
    return first.num_embeddings, name
