"""A bare Hugging Face folder is a project (issue 14): `edgepack build FOLDER` with no edgepack.toml
infers name, task, labels, pooling, max length and inputs from the folder, prints them, and writes
its outputs next to the folder (FOLDER-edgepack/), never into it; `edgepack init FOLDER` writes the
same project as a commented edgepack.toml. Folders that cannot be inferred fail with a typed error
naming the file and what to add, and the CLI exits with that error's code."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from edgepack.errors import ModelLoadError, OutputError, ProjectError, UnsafeModelError
from edgepack.project import load_project
from tests.repo_support import run_cli

REPO = Path(__file__).resolve().parents[1]
MODELS = {name: REPO / "samples" / name / "model" for name in ("roberta-classifier", "xlmr-embedder", "minilm-embedder")}


def _folder(tmp_path: Path, sample: str, name: str | None = None) -> Path:
    dest = tmp_path / (name or sample)
    shutil.copytree(MODELS[sample], dest)
    return dest


def _plain_encoder(tmp_path: Path) -> Path:
    """minilm-embedder's folder less its sentence-transformers files: a plain BertModel."""
    folder = _folder(tmp_path, "minilm-embedder", "plain-bert")
    for name in ("modules.json", "sentence_bert_config.json"):
        (folder / name).unlink()
    for name in ("1_Pooling", "2_Normalize"):
        shutil.rmtree(folder / name)
    return folder


def _edit_config(folder: Path, **changes) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    (folder / "config.json").write_text(json.dumps(cfg))


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _view(project) -> dict:
    """What a project means, independent of where its file lives."""
    from edgepack import hf

    return {"name": project.name, "version": project.version, "task": project.task, "labels": project.labels,
            "max_length": project.max_length, "inputs": project.section("model").get("inputs"),
            "examples": project.example_texts, "pooling": hf.project_folder(project).pooling,
            "tokenizer": project.tokenizer_path}


# ---------------------------------------------------------------------------------------- inference


@pytest.mark.parametrize("sample,task,labels,pooling,inputs", [
    ("roberta-classifier", "text-classification", ["Negative", "Neutral", "Positive"], ("mean",),
     ["input_ids", "attention_mask"]),
    ("xlmr-embedder", "feature-extraction", [], ("mean",), ["input_ids", "attention_mask"]),
    ("plain", "feature-extraction", [], ("mean",), ["input_ids", "attention_mask", "token_type_ids"]),
])
def test_inferred_project_and_init_round_trip(tmp_path, capsys, sample, task, labels, pooling, inputs):
    folder = _plain_encoder(tmp_path) if sample == "plain" else _folder(tmp_path, sample)
    before = _digest(folder)
    bare = load_project(folder)
    err = capsys.readouterr().err
    assert f"inferred from {folder}" in err and f"task       {task}" in err and "max_length 128" in err, err
    assert f"{folder.name}-edgepack" in err  # where the outputs will go is said up front
    view = _view(bare)
    assert view["name"] == folder.name and view["task"] == task and view["labels"] == labels
    assert view["max_length"] == 128 and view["inputs"] == inputs and view["pooling"] == pooling
    assert bare.build_dir == tmp_path / f"{folder.name}-edgepack" / "build"
    assert not bare.build_dir.is_relative_to(folder) and not bare.dist_dir.is_relative_to(folder)

    proc = run_cli("init", str(folder))
    assert proc.returncode == 0, proc.stderr
    toml = (folder / "edgepack.toml").read_text()
    assert toml.startswith("# Written by `edgepack init`") and "# task: " in toml and str(tmp_path) not in toml
    assert f"task       {task}" in proc.stderr and f"wrote {folder / 'edgepack.toml'}" in proc.stdout
    written = load_project(folder)
    assert type(written).__name__ == "Project"  # a plain project now: the toml is what is read
    assert _view(written) == view
    assert _digest(folder) == {**before, "edgepack.toml": hashlib.sha256(toml.encode()).hexdigest()}

    again = run_cli("init", str(folder))  # never overwritten without --force
    assert again.returncode == OutputError.exit_code and "already exists" in again.stderr and "--force" in again.stderr
    (folder / "edgepack.toml").write_text(toml.replace('version = "0.1.0"', 'version = "2.0.0"'))
    with pytest.raises(OutputError):
        from edgepack.hf_infer import init_project

        init_project(folder)
    assert 'version = "2.0.0"' in (folder / "edgepack.toml").read_text()
    forced = run_cli("init", str(folder), "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["config"]["task"] == task
    assert (folder / "edgepack.toml").read_text() == toml


def test_bare_classifier_builds_wasm_next_to_the_folder(tmp_path):
    folder = _folder(tmp_path, "roberta-classifier", "my-roberta")
    before = _digest(folder)
    proc = run_cli("build", str(folder), "--target", "wasm", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "inferred from" in proc.stderr and "labels     Negative, Neutral, Positive" in proc.stderr
    # No [evaluation] file is possible without a toml: the weak-gate warning says how to add one.
    assert "bare Hugging Face folder (no edgepack.toml)" in proc.stderr and "edgepack init" in proc.stderr
    assert _digest(folder) == before  # nothing written into the model folder
    out = tmp_path / "my-roberta-edgepack"
    manifest = json.loads((out / "build" / "manifest.json").read_text())
    assert manifest["model"]["name"] == "my-roberta" and manifest["model"]["labels"] == ["Negative", "Neutral", "Positive"]
    assert [i["name"] for i in manifest["inputs"]] == ["input_ids", "attention_mask"]
    assert manifest["model"]["max_length"] == 128 and manifest["parity"]["fp32"]["ok"]
    assert (out / "dist" / "my-roberta-wasm" / "manifest.json").is_file() and (out / "dist" / "my-roberta-wasm.zip").is_file()
    # The fingerprint reads the folder only: a second build re-runs nothing.
    again = run_cli("build", str(folder), "--json", timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["stages"]["export"].startswith("skipped")
    assert _digest(folder) == before


# ------------------------------------------------------------------------------------------ hostile


def _expect(folder: Path, error: type, *needles: str) -> None:
    with pytest.raises(error) as info:
        load_project(folder)
    for needle in needles:
        assert needle in str(info.value), str(info.value)
    proc = run_cli("init", str(folder))
    assert proc.returncode == error.exit_code, proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert not (folder / "edgepack.toml").exists()


def test_no_config_json(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "tokenizer.json").write_text("{}")
    _expect(folder, ProjectError, "config.json")
    proc = run_cli("build", str(folder), "--target", "wasm")
    assert proc.returncode == ProjectError.exit_code and "config.json" in proc.stderr
    assert not (tmp_path / "empty-edgepack").exists()


@pytest.mark.parametrize("content,needle", [
    ("{not json", "not valid JSON"),
    ("[" * 200_000 + "]" * 200_000, "nested deeper"),
    ('["a", "list"]', "expected a JSON object"),
    ('{"a": ' * 100 + "1" + "}" * 100, "nested deeper"),
])
def test_garbage_or_nested_config(tmp_path, content, needle):
    folder = _folder(tmp_path, "xlmr-embedder")
    (folder / "config.json").write_text(content)
    _expect(folder, ModelLoadError, "config.json", needle)


def test_huge_config_is_not_read(tmp_path):
    from edgepack.runtime import files

    folder = _folder(tmp_path, "xlmr-embedder")
    with open(folder / "config.json", "wb") as f:  # sparse: costs no disk
        f.truncate(files.JSON_LIMIT + 1)
    _expect(folder, ModelLoadError, "config.json")


def test_unknown_architecture(tmp_path):
    folder = _folder(tmp_path, "roberta-classifier")
    _edit_config(folder, model_type="gpt2", architectures=["GPT2ForSequenceClassification"])
    _expect(folder, ModelLoadError, "model_type 'gpt2'", "xlm-roberta")


def test_head_that_is_neither_classifier_nor_encoder(tmp_path):
    folder = _folder(tmp_path, "roberta-classifier")
    _edit_config(folder, architectures=["RobertaForMaskedLM"])
    _expect(folder, ProjectError, "RobertaForMaskedLM", 'task = "feature-extraction"', "edgepack init")


def test_remote_code_is_refused(tmp_path):
    folder = _folder(tmp_path, "xlmr-embedder")
    _edit_config(folder, auto_map={"AutoModel": "modeling_evil.Evil"})
    _expect(folder, UnsafeModelError, "remote code")


@pytest.mark.parametrize("changes,needles", [
    ({"num_labels": 5}, ("num_labels = 5", "id2label has 3")),
    ({"id2label": {"0": "a", "1": "b"}, "label2id": None}, ("id2label has 2 labels", "head", "3 outputs")),
    ({"id2label": {"0": "a", "2": "b", "3": "c"}}, ("not 0..2",)),
    ({"id2label": {"0": "a", "1": "a", "2": "c"}}, ("more than once",)),
])
def test_id2label_that_does_not_fit(tmp_path, changes, needles):
    folder = _folder(tmp_path, "roberta-classifier")
    _edit_config(folder, **changes)
    _expect(folder, ModelLoadError, "config.json", *needles)


def test_classifier_without_id2label_names_what_to_add(tmp_path):
    folder = _folder(tmp_path, "roberta-classifier")
    _edit_config(folder, id2label=None, label2id=None)
    _expect(folder, ProjectError, "id2label", "labels = [...]")


@pytest.mark.parametrize("what", ["tokenizer.json", "config.json", "folder"])
def test_symlink_out_of_the_folder(tmp_path, what):
    folder = _folder(tmp_path, "roberta-classifier")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    if what == "folder":
        (outside / "x.json").write_text("{}")
        os.symlink(outside, folder / "extra")
    else:
        shutil.move(folder / what, outside / what)
        os.symlink(outside / what, folder / what)
    _expect(folder, ProjectError, "outside the project folder", str(outside))


def test_config_json_linked_to_a_device_is_not_opened(tmp_path):
    folder = _folder(tmp_path, "roberta-classifier")
    (folder / "config.json").unlink()
    os.symlink("/dev/zero", folder / "config.json")
    _expect(folder, ProjectError, "config.json")


def test_a_folder_name_that_is_no_artifact_name(tmp_path):
    folder = _folder(tmp_path, "xlmr-embedder", "___")
    _expect(folder, ProjectError, "artifact name", 'name = "..."')
