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

from edgepack.errors import ModelLoadError, UnsafeModelError
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
