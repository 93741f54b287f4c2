"""CLI conventions: every command has help with an example, --json, clear errors and exit codes."""

from __future__ import annotations

import json

import pytest

from tests.repo_support import run_cli
from edgepack.cli import COMMANDS, cli


def _installed_commands() -> list[str]:
    import click

    ctx = click.Context(cli)
    return cli.list_commands(ctx)


def test_every_registered_command_is_installed():
    assert set(_installed_commands()) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_has_an_example(name):
    assert name in _installed_commands(), f"`edgepack {name}` is registered but does not load"
    result = run_cli(name, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout, f"`edgepack {name} --help` shows no example"


def test_top_level_help_lists_exit_codes():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "Exit codes" in result.stdout


def test_missing_project_is_a_clear_error(tmp_path):
    result = run_cli("export", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "no such directory" in result.stderr and "Traceback" not in result.stderr


def test_json_error_document(tmp_path):
    result = run_cli("export", str(tmp_path), "--json")
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["error"]["type"] == "ProjectError" and doc["error"]["exit_code"] == 2


def test_inspect_build(sentiment_project):
    result = run_cli("inspect", str(sentiment_project / "build"))
    assert result.returncode == 0, result.stderr
    assert "integrity: ok" in result.stdout
    assert "LSTM×1" in result.stdout and "Softmax×1" in result.stdout
    data = json.loads(run_cli("inspect", str(sentiment_project / "build"), "--json").stdout)
    assert data["integrity"] == "ok"
    assert data["models"][0]["op_types"]["LSTM"] == 1


def test_inspect_reports_tampering(sentiment_project, tmp_path):
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(sentiment_project / "build", copy)
    (copy / "tokenizer.json").write_text("{}")
    result = run_cli("inspect", str(copy))
    assert "tokenizer.json: size" in result.stdout or "tokenizer.json: sha256" in result.stdout


def test_demo_replays_seed_flow(sentiment_project):
    result = run_cli("demo", str(sentiment_project), "--seconds", "0.2", "--batch-size", "8", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["single"]["text"] == "This movie was really great and amazing"
    assert data["single"]["label"] == "Positive"
    assert abs(sum(data["single"]["probabilities"].values()) - 1) < 1e-5
    assert len(data["batch"]) == 4
    tp = data["throughput"]
    assert tp["samples"] > 0 and tp["samples_per_second"] == pytest.approx(tp["samples"] / tp["seconds"], rel=0.01)
    assert data["self_test"]["ok"]
    human = run_cli("demo", str(sentiment_project), "--seconds", "0.2")
    assert "samples/s" in human.stdout and "ms/sample" in human.stdout


def test_deploy_refuses_a_missing_package_before_any_ssh(tmp_path):
    result = run_cli("deploy", str(tmp_path / "nope.tar.gz"), "--host", "pi@127.0.0.1", "--json")
    assert result.returncode == 5, result.stderr
    assert "no such package" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["error"]["type"] == "ArtifactError"


def test_deploy_env_must_be_edgepack_settings(tmp_path):
    result = run_cli("deploy", str(tmp_path / "x.tar.gz"), "--host", "pi@h", "--env", "PATH=/evil")
    assert result.returncode == 2 and "expected EDGEPACK_NAME=value" in result.stderr
