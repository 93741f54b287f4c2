"""Hugging Face classifiers: labels come from config.json's id2label; edgepack.toml may only repeat them
in the same order (a reordered list would ship a mislabelled model)."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import pytest
from tests.hf.hf_tiny import make_folder, write_project

from edgepack.errors import ModelLoadError, ProjectError
from edgepack.export import export_project
from edgepack.hf import config_labels, project_folder
from edgepack.project import load_project

NAMES = {"0": "negative", "1": "neutral", "2": "positive"}


@pytest.fixture(scope="module")
def clf_folder(tmp_path_factory):
    folder = make_folder(tmp_path_factory.mktemp("clf") / "model", task="text-classification", seed=3)
    set_id2label(folder, NAMES)
    return folder


@pytest.fixture
def folder(tmp_path, clf_folder):
    return shutil.copytree(clf_folder, tmp_path / "model")


def set_id2label(folder, id2label, **extra):
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    cfg["id2label"] = id2label
    cfg["label2id"] = {v: int(k) if str(k).isdigit() else k for k, v in id2label.items()}
    cfg.update(extra)
    path.write_text(json.dumps(cfg))


def project(tmp_path, folder, labels=None):
    """labels None: edgepack.toml without labels."""
    root = write_project(tmp_path, folder, task="text-classification", labels=labels or ["x", "y", "z"])
    if labels is None:
        cfg = root / "edgepack.toml"
        cfg.write_text(re.sub(r"^labels = .*\n", "", cfg.read_text(), flags=re.M))
    return load_project(root)


def test_config_labels_in_id_order(tmp_path, folder):
    set_id2label(folder, {"2": "positive", "0": "negative", "1": "neutral"})  # JSON order is not id order
    assert config_labels(project(tmp_path, folder)) == ["negative", "neutral", "positive"]


def test_omitted_labels_come_from_config_and_reach_the_manifest(tmp_path, folder):
    proj = project(tmp_path, folder)
    assert proj.labels == ["negative", "neutral", "positive"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = export_project(proj)
    assert result.manifest["model"]["labels"] == ["negative", "neutral", "positive"]


def test_same_labels_in_the_toml_are_accepted(tmp_path, folder):
    assert project_folder(project(tmp_path, folder, ["negative", "neutral", "positive"])).num_labels == 3


def test_reordered_labels_are_an_error_naming_both_orders(tmp_path, folder):
    with pytest.raises(ProjectError) as err:
        project_folder(project(tmp_path, folder, ["positive", "neutral", "negative"]))
    text = str(err.value)
    assert "labels = ['positive', 'neutral', 'negative']" in text
    assert "id2label is ['negative', 'neutral', 'positive']" in text
    assert "same labels in another order" in text


def test_reordered_labels_fail_the_export_cli(tmp_path, folder):
    from tests.repo_support import run_cli

    proj = project(tmp_path, folder, ["neutral", "negative", "positive"])
    result = run_cli("export", str(proj.root), "--json")
    assert result.returncode == 2, result.stderr
    assert json.loads(result.stdout)["error"]["type"] == "ProjectError"
    assert "Traceback" not in result.stderr
    assert not (proj.root / "build").exists()


def test_different_label_names_are_an_error(tmp_path, folder):
    with pytest.raises(ProjectError, match=r"\(different labels\)"):
        project_folder(project(tmp_path, folder, ["bad", "meh", "good"]))


def test_generic_config_labels_accept_the_toml_and_say_so(tmp_path, folder, capfd):
    set_id2label(folder, {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"})
    project_folder(project(tmp_path, folder, ["bad", "meh", "good"]))
    err = capfd.readouterr().err
    assert "generic labels (LABEL_0, LABEL_1, LABEL_2)" in err and "bad, meh, good" in err


@pytest.mark.parametrize("id2label,extra,pattern", [
    ({"0": "a", "2": "b", "3": "c"}, {}, r"id2label ids \[0, 2, 3\] are not 0..2"),
    ({"0": "a", "one": "b", "2": "c"}, {}, r"id2label key 'one' is not a class id"),
    ({"0": "a", "1": "a", "2": "c"}, {}, r"id2label names \['a'\] more than once"),
    ({"0": "a", "1": "b", "2": "c"}, {"num_labels": 4}, r"num_labels = 4 but id2label has 3 entries"),
    ({"0": "a", "1": "b"}, {}, r"id2label has 2 labels but the classification head .* has 3 outputs"),
])
def test_bad_id2label_is_a_typed_error(tmp_path, folder, id2label, extra, pattern):
    set_id2label(folder, id2label, **extra)
    with pytest.raises(ModelLoadError, match=pattern):
        config_labels(project(tmp_path, folder))


def test_tokenizer_ids_beyond_vocab_size_are_refused_before_export(tmp_path, folder):
    tok = json.loads((folder / "tokenizer.json").read_text())
    vocab = json.loads((folder / "config.json").read_text())["vocab_size"]
    tok["added_tokens"].append({"id": vocab + 5, "content": "[NEW]", "single_word": False, "lstrip": False,
                                "rstrip": False, "normalized": False, "special": True})
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(ModelLoadError, match=rf"tokenizer ids go up to {vocab + 5} \('\[NEW\]'\) but the model's "
                                             rf"embedding \(vocab_size in .*config.json\) has {vocab} rows"):
        export_project(project(tmp_path, folder, ["negative", "neutral", "positive"]))
