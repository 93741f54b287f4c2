"""Bad Hugging Face folders fail early with a message naming the file and what to do."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings

import pytest
from tests.hf.hf_tiny import make_folder, write_project

from edgepack.errors import EdgepackError, ModelLoadError, ProjectError, UnsafeModelError
from edgepack.export import export_project
from edgepack.hf import SUPPORTED, inspect_folder


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("good") / "model", pooling="mean", seed=1)


@pytest.fixture
def folder(tmp_path, good_folder):
    """A private copy to break."""
    return shutil.copytree(good_folder, tmp_path / "model")


def export(tmp_path, folder, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_project(write_project(tmp_path, folder, **kw))


def edit_config(folder, **changes):
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg))


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json", "config.json"])
def test_missing_file_is_named(tmp_path, folder, name):
    (folder / name).unlink()
    with pytest.raises(ModelLoadError, match=rf"{name} is missing") as err:
        export(tmp_path, folder)
    assert "edgepack.toml: [model] hf = 'model'" in str(err.value)
    assert not (tmp_path / "build").exists()


def test_pickled_weights_are_refused_with_a_conversion_hint(tmp_path, folder):
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match=r"model.safetensors is missing.*pytorch_model.bin.*safe_serialization=True"):
        export(tmp_path, folder)


def test_unsupported_architecture_lists_the_supported_ones(tmp_path, folder):
    edit_config(folder, model_type="gpt2", architectures=["GPT2Model"])
    with pytest.raises(ModelLoadError) as err:
        export(tmp_path, folder)
    message = str(err.value)
    assert "model_type 'gpt2'" in message and "GPT2Model" in message and "config.json" in message
    for model_type, archs in SUPPORTED.items():
        assert model_type in message and all(a in message for a in archs)


def test_remote_code_is_refused(tmp_path, folder):
    edit_config(folder, auto_map={"AutoModel": "modeling_evil.EvilModel"})
    (folder / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(UnsafeModelError, match=r"config.json: asks for remote code.*never runs code"):
        export(tmp_path, folder)


def test_remote_code_is_refused_before_the_architecture_check(folder):
    edit_config(folder, model_type="evil", auto_map={"AutoModel": "x.Y"})
    with pytest.raises(UnsafeModelError):
        inspect_folder(folder)


def test_custom_sentence_transformers_module_is_refused(folder):
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelLoadError, match=r"modules.json: module \[3\] type .*Dense.*supported: .*Pooling"):
        inspect_folder(folder)


def test_unsupported_pooling_names_the_file(folder):
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "weightedmean"}))
    with pytest.raises(ModelLoadError, match=r"1_Pooling/config.json: pooling \['weightedmean'\] is not supported; "
                                              r"supported: mean, cls, max"):
        inspect_folder(folder)


def test_classification_needs_a_classification_head(tmp_path, folder):
    with pytest.raises(ModelLoadError, match=r"no sequence-classification head"):
        export(tmp_path, folder, task="text-classification")


def test_label_count_must_match_the_head(tmp_path):
    folder = make_folder(tmp_path / "model", task="text-classification", num_labels=3, seed=2)
    with pytest.raises(ProjectError, match=r"labels: 2 given, but .*config.json has 3 classes"):
        export(tmp_path, folder, task="text-classification", labels=["a", "b"])


def test_weights_missing_from_the_file_are_an_error_not_random(tmp_path):
    """transformers would silently initialise a missing classifier at random: edgepack refuses."""
    from safetensors.torch import load_file, save_file

    folder = make_folder(tmp_path / "model", task="text-classification", seed=2)
    state = load_file(str(folder / "model.safetensors"))
    save_file({k: v for k, v in state.items() if not k.startswith("classifier.")}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"does not hold every weight.*classifier\.(bias|weight).*at random"):
        export(tmp_path, folder, task="text-classification")


def test_token_type_ids_refused_for_distilbert(tmp_path):
    folder = make_folder(tmp_path / "model", kind="distilbert", pooling="mean", seed=2)
    write_project(tmp_path, folder)
    toml = (tmp_path / "edgepack.toml").read_text().replace(
        '[model]\n', '[model]\ninputs = ["input_ids", "attention_mask", "token_type_ids"]\n')
    (tmp_path / "edgepack.toml").write_text(toml)
    with pytest.raises(ProjectError, match=r"distilbert takes no token_type_ids"):
        export_project(tmp_path)


def test_cli_reports_a_bad_folder_without_a_traceback(tmp_path, folder):
    edit_config(folder, auto_map={"AutoModel": "x.Y"})
    write_project(tmp_path, folder)
    proc = subprocess.run([sys.executable, "-m", "edgepack.cli", "export", str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "asks for remote code" in proc.stderr and "Traceback" not in proc.stderr


def test_errors_are_edgepack_errors():
    assert issubclass(UnsafeModelError, EdgepackError)


def test_default_prompt_is_warned_about(folder):
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: "}, "default_prompt_name": "query"}))
    with pytest.warns(UserWarning, match=r"default_prompt_name = 'query'.*'query: '"):
        inspect_folder(folder)


def test_modules_without_pooling_are_refused(folder):
    modules = [m for m in json.loads((folder / "modules.json").read_text()) if not m["type"].endswith("Pooling")]
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelLoadError, match=r"modules.json: has no Pooling module"):
        inspect_folder(folder)


def test_plain_folder_defaults_to_mean_pooling(folder):
    """A folder without sentence-transformers files (a plain BertModel): mean pooling, the common choice."""
    for name in ("modules.json", "sentence_bert_config.json"):
        (folder / name).unlink()
    shutil.rmtree(folder / "1_Pooling")
    shutil.rmtree(folder / "2_Normalize")
    info = inspect_folder(folder)
    assert info.pooling == ("mean",) and "default" in info.pooling_source
