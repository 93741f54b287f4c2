"""Model loading: factories, weights that do not fit, pickles that would run code."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.repo_support import copy_sample, run_cli
from edgepack.errors import ModelLoadError, ProjectError, UnsafeModelError
from edgepack.export import export_project
from edgepack.project import load_project
from edgepack.sources import build_module


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_sample("sentiment", tmp_path)


def _set_model(project: Path, **keys: str) -> None:
    cfg = project / "edgepack.toml"
    text = cfg.read_text()
    for key, value in keys.items():
        start = text.index(f"{key} = ")
        end = text.index("\n", start)
        text = text[:start] + f"{key} = {value}" + text[end:]
    cfg.write_text(text)


def test_factory_module_missing(project):
    _set_model(project, factory='"nothere.py:SentimentClassifier"')
    # load_project names it now (paths are checked up front); build_module would too.
    with pytest.raises((ModelLoadError, ProjectError), match=r"nothere.py does not exist"):
        build_module(load_project(project))


def test_factory_attribute_missing(project):
    _set_model(project, factory='"model.py:Nope"')
    with pytest.raises(ModelLoadError, match=r"has no attribute 'Nope'.*SentimentClassifier"):
        build_module(load_project(project))


def test_factory_import_error_is_named(project):
    (project / "broken.py").write_text("import does_not_exist_xyz\n")
    _set_model(project, factory='"broken.py:Model"')
    with pytest.raises(ModelLoadError, match=r"importing broken.py failed: ModuleNotFoundError"):
        build_module(load_project(project))


def test_weights_keys_listed(project):
    state = torch.load  # noqa: F841  (keep torch import used)
    from safetensors.torch import load_file, save_file

    weights = load_file(str(project / "model.safetensors"))
    weights.pop("fc.bias")
    weights["extra.weight"] = torch.zeros(2)
    weights["fc.weight"] = torch.zeros(5, 128)
    save_file(weights, str(project / "model.safetensors"))
    with pytest.raises(ModelLoadError) as info:
        build_module(load_project(project))
    text = str(info.value)
    assert "missing keys: fc.bias" in text
    assert "unexpected keys: extra.weight" in text
    assert "fc.weight: file (5, 128) vs model (3, 128)" in text


def test_wrong_args_shape_mismatch(project):
    _set_model(project, args="{ vocab_size = 367, embed_dim = 32, hidden_dim = 128, num_classes = 3 }")
    with pytest.raises(ModelLoadError, match=r"embedding.weight: file \(367, 64\) vs model \(367, 32\)"):
        build_module(load_project(project))


def test_pt_state_dict_loads_with_weights_only(project):
    from safetensors.torch import load_file

    torch.save(load_file(str(project / "model.safetensors")), project / "model.pt")
    _set_model(project, weights='"model.pt"')
    module = build_module(load_project(project))
    assert module.fc.weight.shape == (3, 128)


class _Evil:
    """Unpickling this calls open(path, 'w'), i.e. creates a file: code execution."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_malicious_pickle_is_refused_and_never_runs(project, tmp_path):
    marker = tmp_path / "pwned.txt"
    torch.save({"embedding.weight": _Evil(str(marker))}, project / "model.pt")
    _set_model(project, weights='"model.pt"')
    with pytest.raises(UnsafeModelError, match=r"model.pt: refused"):
        build_module(load_project(project))
    assert not marker.exists()
    result = run_cli("export", str(project))
    assert result.returncode == 2 and "refused" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_torchscript_refused(project):
    module = torch.jit.script(torch.nn.Linear(2, 2))
    torch.jit.save(module, str(project / "model.pt"))
    _set_model(project, weights='"model.pt"')
    with pytest.raises(UnsafeModelError, match="TorchScript archive"):
        build_module(load_project(project))


def test_module_that_fails_to_export_is_named(project):
    (project / "bad_model.py").write_text(
        "import torch\n"
        "class Bad(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lin = torch.nn.Linear(1, 3)\n"
        "    def forward(self, input_ids, attention_mask):\n"
        "        x = input_ids.float().numpy()  # leaves the graph: cannot be exported\n"
        "        return self.lin(torch.from_numpy(x).sum(1, keepdim=True))\n"
    )
    from safetensors.torch import save_file

    save_file({"lin.weight": torch.zeros(3, 1), "lin.bias": torch.zeros(3)}, str(project / "bad.safetensors"))
    _set_model(project, factory='"bad_model.py:Bad"', weights='"bad.safetensors"', args="{}")
    from edgepack.errors import EdgepackError

    with pytest.raises(EdgepackError, match=r"bad_model.py:Bad"):
        export_project(project)
    assert not (project / "build").exists()
