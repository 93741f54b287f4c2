"""edgepack.toml validation: every bad input names the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, copy_sample, run_cli
from edgepack.errors import ProjectError
from edgepack.project import load_project


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_sample("sentiment", tmp_path)


def edit(project: Path, old: str, new: str) -> None:
    cfg = project / "edgepack.toml"
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new))


def test_sample_loads():
    p = load_project(SAMPLES / "sentiment")
    assert p.name == "sentiment" and p.labels == ["Negative", "Neutral", "Positive"]
    assert len(p.evaluation_rows()) >= 500


def test_missing_toml(tmp_path):
    with pytest.raises(ProjectError, match=r"edgepack\.toml: not found"):
        load_project(tmp_path)


def test_invalid_toml(project):
    (project / "edgepack.toml").write_text("name = \n")
    with pytest.raises(ProjectError, match=r"edgepack\.toml: invalid TOML"):
        load_project(project)


@pytest.mark.parametrize(
    "old,new,message",
    [
        ('task = "text-classification"', 'task = "translation"', r"task: 'translation' is not supported"),
        ('max_length = 64', 'max_length = "long"', r"max_length: must be an integer"),
        ('max_length = 64', 'max_lenght = 64', r"max_lenght: unknown key"),
        ('weights = "model.safetensors"', 'weights = "nope.safetensors"', r"\[model\] weights: nope.safetensors does not exist"),
        ('tokenizer = "tokenizer.json"', 'tokenizer = "missing.json"', r"tokenizer: missing.json does not exist"),
        ('labels = ["Negative", "Neutral", "Positive"]', 'labels = ["A", "A"]', r"labels: labels must be unique"),
        ('name = "sentiment"', 'name = "bad name!"', r"name: 'bad name!' may only contain"),
        ('factory = "model.py:SentimentClassifier"', 'factory = "model.py"', r"\[model\] factory: 'model.py' must look like"),
    ],
)
def test_bad_keys_are_named(project, old, new, message):
    edit(project, old, new)
    with pytest.raises(ProjectError, match=message) as info:
        load_project(project)
    assert str(project / "edgepack.toml") in str(info.value)


def test_all_problems_reported_at_once(project):
    edit(project, 'max_length = 64', 'max_length = 0\ncolour = "red"')
    with pytest.raises(ProjectError) as info:
        load_project(project)
    text = str(info.value)
    assert "max_length: must be at least 1" in text and "colour: unknown key" in text


def test_cli_reports_without_traceback(project):
    edit(project, 'task = "text-classification"', 'task = 3')
    result = run_cli("export", str(project))
    assert result.returncode == 2
    assert "task: must be a string" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "build").exists()
