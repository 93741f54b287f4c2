"""edgepack.toml validation: every bad input names the file and the key."""

from __future__ import annotations

import json
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.repo_support import SAMPLES, copy_sample, run_cli
from tests.fuzz import base
from tests.fuzz.mutate import make_special, nested_text, sparse_file
from edgepack.errors import ProjectError, TokenizerSpecError
from edgepack.project import load_project
from edgepack.runtime import files
from edgepack.runtime.tokenizer import Tokenizer


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_sample("sentiment", tmp_path)


def _edit(project: Path, old: str, new: str) -> None:
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
    _edit(project, old, new)
    with pytest.raises(ProjectError, match=message) as info:
        load_project(project)
    assert str(project / "edgepack.toml") in str(info.value)


def test_all_problems_reported_at_once(project):
    _edit(project, 'max_length = 64', 'max_length = 0\ncolour = "red"')
    with pytest.raises(ProjectError) as info:
        load_project(project)
    text = str(info.value)
    assert "max_length: must be at least 1" in text and "colour: unknown key" in text


def test_cli_reports_without_traceback(project):
    _edit(project, 'task = "text-classification"', 'task = 3')
    result = run_cli("export", str(project))
    assert result.returncode == 2
    assert "task: must be a string" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "build").exists()


# ---- files a project points at: regular files inside the project ---------------------------------

@contextmanager
def _deadline(seconds: int = 10):
    """Fail (instead of hanging the run) if the body blocks, e.g. on a FIFO."""
    def expired(*_):
        raise AssertionError(f"blocked for more than {seconds} s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def tiny(tmp_path) -> Path:
    """The fuzz suite's tiny safetensors project (no build): a few KB, made in milliseconds."""
    return base.write_project(tmp_path / "p", "safetensors")


def _write_config(project: Path, **changes) -> None:
    cfg = base.config("safetensors")
    for dotted, value in changes.items():
        table, *keys = dotted.split("__")
        if not keys:
            cfg[table] = value
            continue
        t = cfg.setdefault(table, {})
        for k in keys[:-1]:
            t = t.setdefault(k, {})
        t[keys[-1]] = value
    (project / "edgepack.toml").write_text(base.dump_toml(cfg), encoding="utf-8")


PATH_KEYS = [("tokenizer", "tokenizer.json", "tokenizer"), ("model__weights", "model.safetensors", "[model] weights"),
             ("model__factory", "model.py", "[model] factory")]
SPECIAL_MESSAGES = {
    "directory": "is a directory, not a regular file", "fifo": "is a FIFO (named pipe), not a regular file",
    "dev_zero": "outside the project folder", "socket": "is a socket", "symlink_out": "outside the project folder",
    "dotdot": "outside the project folder", "absolute": "outside the project folder",
    "long_name": "too long for the file system", "long_path": "too long for the file system",
    "nul": "NUL character", "empty": "is empty", "symlink_loop": "symlink loop", "missing": "does not exist",
}


@pytest.mark.parametrize("special", sorted(SPECIAL_MESSAGES))
@pytest.mark.parametrize("key,name,label", PATH_KEYS)
def test_unsafe_paths_are_refused_at_load(tiny, tmp_path, key, name, label, special):
    if key == "model__factory" and special in ("dotdot", "absolute", "long_name", "long_path", "nul", "empty"):
        pytest.skip("not a 'file.py:Name' factory: a module name, imported from sys.path")
    outside = tmp_path / "outside"
    outside.mkdir()
    value = make_special(special, tiny, outside, name)
    _write_config(tiny, **{key: value + (":Tiny" if key == "model__factory" else "")})
    with _deadline(), pytest.raises(ProjectError) as info:
        load_project(tiny)
    text = str(info.value)
    assert f"{label}: " in text and SPECIAL_MESSAGES[special] in text, text
    assert "Traceback" not in text


def test_allow_outside_paths_is_the_one_switch(tiny, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(tiny / "tokenizer.json", outside / "tok.json")
    _write_config(tiny, tokenizer=str(outside / "tok.json"))
    with pytest.raises(ProjectError, match=r"tokenizer: .*outside the project folder.*allow_outside_paths = true"):
        load_project(tiny)
    _write_config(tiny, tokenizer=str(outside / "tok.json"), allow_outside_paths=True)
    assert load_project(tiny).tokenizer_path == (outside / "tok.json").resolve()
    os.mkfifo(outside / "fifo.json")  # the switch relaxes "inside", never "a regular file"
    _write_config(tiny, tokenizer=str(outside / "fifo.json"), allow_outside_paths=True)
    with _deadline(), pytest.raises(ProjectError, match="FIFO"):
        load_project(tiny)
    _write_config(tiny, tokenizer="/dev/zero", allow_outside_paths=True)
    with pytest.raises(ProjectError, match="tokenizer: /dev/zero is a character device, not a regular file"):
        load_project(tiny)
    _write_config(tiny, allow_outside_paths="yes")
    with pytest.raises(ProjectError, match="allow_outside_paths: must be true or false"):
        load_project(tiny)


def test_symlink_inside_the_project_is_fine(tiny):
    (tiny / "data").mkdir()
    (tiny / "tokenizer.json").rename(tiny / "data" / "tok.json")
    os.symlink("data/tok.json", tiny / "tokenizer.json")
    assert load_project(tiny).tokenizer_path == (tiny / "data" / "tok.json")


def test_data_files_outside(tiny, tmp_path):
    """[evaluation] file / [quantization] calibration: outside the project only with allow_outside_paths;
    special files always refused."""
    shutil.copyfile(tiny / "eval.tsv", tmp_path / "eval.tsv")
    _write_config(tiny, evaluation__file="../eval.tsv")
    with pytest.raises(ProjectError, match=r"\[evaluation\] file: ../eval.tsv resolves to .*outside"):
        load_project(tiny)
    _write_config(tiny, allow_outside_paths=True, evaluation__file="../eval.tsv")
    assert load_project(tiny).evaluation_rows()
    os.mkfifo(tiny / "calib.fifo")
    _write_config(tiny, quantization__calibration="calib.fifo")
    with _deadline(), pytest.raises(ProjectError, match=r"\[quantization\] calibration: calib.fifo is a FIFO"):
        load_project(tiny)


def test_hf_folder_entries_are_checked(tiny, tmp_path):
    (tiny / "hf").mkdir()
    (tiny / "hf" / "config.json").write_text("{}")
    os.symlink("/etc/passwd", tiny / "hf" / "vocab.txt")
    _write_config(tiny, model={"hf": "hf"})
    with pytest.raises(ProjectError, match=r"\[model\] hf: .*vocab.txt resolves to /etc/passwd, outside"):
        load_project(tiny)
    (tiny / "hf" / "vocab.txt").unlink()
    os.mkfifo(tiny / "hf" / "model.safetensors")
    with _deadline(), pytest.raises(ProjectError, match=r"\[model\] hf: .*model.safetensors is a FIFO"):
        load_project(tiny)


def test_project_folder_itself(tmp_path):
    with pytest.raises(ProjectError, match="too long for the file system"):
        load_project(tmp_path / ("x" * 300))
    (tmp_path / "p").mkdir()
    os.mkfifo(tmp_path / "p" / "edgepack.toml")
    with _deadline(), pytest.raises(ProjectError, match="FIFO"):
        load_project(tmp_path / "p")
    (tmp_path / "p" / "edgepack.toml").unlink()
    sparse_file(tmp_path / "p" / "edgepack.toml", 2 << 20)
    with pytest.raises(ProjectError, match=r"2.0 MiB, more than the 1.0 MiB allowed"):
        load_project(tmp_path / "p")


# ---- bounded reads --------------------------------------------------------------------------------

def test_read_bytes_limits_and_special_files(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x" * 100)
    assert files.read_bytes(f, "test", 100, ProjectError) == b"x" * 100
    with pytest.raises(ProjectError, match="100 bytes, more than the 99 bytes allowed"):
        files.read_bytes(f, "test", 99, ProjectError)
    with pytest.raises(ProjectError, match="/dev/zero is a character device"):
        files.read_bytes("/dev/zero", "test", None, ProjectError)
    os.mkfifo(tmp_path / "fifo")
    with _deadline(), pytest.raises(TokenizerSpecError, match="FIFO"):
        Tokenizer.from_file(tmp_path / "fifo")
    with pytest.raises(TokenizerSpecError, match="is a directory"):
        Tokenizer.from_file(tmp_path)
    sparse_file(tmp_path / "big.json", files.TOKENIZER_LIMIT + 1)
    with pytest.raises(TokenizerSpecError, match="more than the 64.0 MiB allowed"):
        Tokenizer.from_file(tmp_path / "big.json")


def test_evaluation_file_content(tiny):
    (tiny / "eval.jsonl").write_text('{"text": "a", "label": ["x"]}\n' + nested_text(5000) + "\n")
    _write_config(tiny, evaluation__file="eval.jsonl")
    with pytest.raises(ProjectError, match=r"eval.jsonl:1: 'label' must be a string"):
        load_project(tiny).evaluation_rows()
    (tiny / "eval.jsonl").write_text(nested_text(100_000) + "\n")
    with pytest.raises(ProjectError, match=r"eval.jsonl:1: invalid JSON"):
        load_project(tiny).evaluation_rows()


# ---- depth and numbers ----------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [65, 400, 5000])
def test_deep_toml(tiny, depth):
    text = (tiny / "edgepack.toml").read_text()
    (tiny / "edgepack.toml").write_text(text.replace('"max_length" = 16', f'"max_length" = 16\ndeep = {nested_text(depth, "toml")}'))
    with pytest.raises(ProjectError, match="nested deeper than 64 levels"):
        load_project(tiny)


@pytest.mark.parametrize("value,message", [
    ("70000", "max_length: must be at most 65536"), ("0", "max_length: must be at least 1"),
    (str(10 ** 30), "max_length: must be at most 65536"), ("9" * 5000, "invalid TOML: Exceeds the limit"),
])
def test_max_length_bounds(tiny, value, message):
    text = (tiny / "edgepack.toml").read_text()
    (tiny / "edgepack.toml").write_text(text.replace('"max_length" = 16', f'"max_length" = {value}'))
    with pytest.raises(ProjectError, match=message):
        load_project(tiny)


def _spec_with(**changes) -> dict:
    spec = base.tokenizer_spec()
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = spec
        for k in parents:
            target = target[int(k)] if isinstance(target, list) else target[k]
        target[int(last) if isinstance(target, list) else last] = value
    return spec


@pytest.mark.parametrize("changes,message", [
    ({"model__vocab__huge": 2 ** 40}, "model.vocab: id of 'huge' must be a non-negative integer below 2**31"),
    ({"model__vocab__neg": -(10 ** 40)}, "got -a number of about 41 digits"),
    ({"added_tokens__0__id": 2 ** 63}, "added_tokens[0].id: must be a non-negative integer below 2**31"),
    ({"padding": {"strategy": {"Fixed": 10 ** 12}}}, "padding.strategy.Fixed: 1000000000000 must be between 0 and 65536"),
    ({"truncation": {"max_length": 10 ** 18, "stride": 0}}, "truncation.max_length: a number of about 19 digits is longer"),
    ({"truncation": {"max_length": 8, "stride": 2 ** 40}}, "truncation.stride: 1099511627776 is out of range"),
    ({"padding": {"pad_id": 2 ** 64}}, "padding.pad_id: must be a non-negative integer below 2**31"),
    ({"model__vocab": {f"t{k}": k * 100_000 for k in range(3)}}, "ids are too sparse"),
    ({"post_processor": {"type": "TemplateProcessing", "single": [], "pair": [],
                         "special_tokens": {"X": {"id": "X", "ids": ["a"], "tokens": ["X"]}}}},
     "post_processor.special_tokens.X.ids[0]: expected a token id"),
])
def test_tokenizer_numbers_are_bounded(changes, message):
    with pytest.raises(TokenizerSpecError) as info:
        Tokenizer.from_dict(_spec_with(**changes))
    assert message in str(info.value)


@pytest.mark.parametrize("text", [
    '{"version": "1.0", "model": ' + nested_text(100) + "}", nested_text(100_000), '{"version": "1.0", "model": ' + nested_text(70, "{") + "}",
    '{"version": "1.0", "model": {"type": "WordLevel", "vocab": {}}, "normalizer": '
    + '{"type": "Sequence", "normalizers": [' * 3000 + '{"type": "Lowercase"}' + "]}" * 3000 + "}",
])
def test_deep_tokenizer_json(text):
    with pytest.raises(TokenizerSpecError, match="nested deeper than 64 levels"):
        Tokenizer.from_str(text)


def test_deep_tokenizer_dict_without_recursion_error():
    deep = {"type": "Lowercase"}
    for _ in range(5000):
        deep = {"type": "Sequence", "normalizers": [deep]}
    with pytest.raises(TokenizerSpecError, match="nested deeper than 64 levels"):
        Tokenizer.from_dict(_spec_with(normalizer=deep))


# ---- config holes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("changes,message", [
    ({"targets__rpi__pyhton": ["3.11"]}, "[targets] rpi.pyhton: unknown key (known: precision, python)"),
    ({"targets__wasm__precison": "int8"}, "[targets] wasm.precison: unknown key (known: precision)"),
    ({"targets__wasm__precision": "fast"}, "[targets] wasm.precision: 'fast' is not one of auto, fp32, int8"),
    ({"targets__rpi__python": ["3.12"]}, "[targets] rpi.python: ['3.12'] must list versions from '3.11', '3.13'"),
    ({"targets__rpi__python": "3.11"}, "[targets] rpi.python: must be a list"),
    ({"targets__gpu": {"precision": "int8"}}, "[targets] gpu: unknown key"),
    ({"targets__wasm": "int8"}, "[targets] wasm: must be a table"),
    ({"quantization__mode": "dinamic"}, "[quantization] mode: 'dinamic' is not one of auto, dynamic, static, none"),
    ({"quantization__extra_precisions": ["int2"]}, "[quantization] extra_precisions: ['int2'] unknown"),
    ({"model__inputs": ["ids"]}, "[model] inputs: ['ids'] unknown"),
    ({"model__output": "logit"}, "[model] output: 'logit' is not one of"),
    ({"export__exporter": "onnx"}, "[export] exporter: 'onnx' is not one of torchscript, dynamo"),
    ({"export__tolerance": float("nan")}, "[export] tolerance: must be a finite number"),
    ({"export__seed": -1}, "[export] seed: must be at least 0"),
    ({"quantization__min_agreement": 1.5}, "[quantization] min_agreement: must be at most 1.0"),
    ({"examples__texts": "abc"}, "[examples] texts: must be a list"),
    ({"examples__texts": 3}, "[examples] texts: must be a list"),
    ({"examples__texts": [{"a": 1}]}, "[examples] texts: every item must be a string"),
    ({"labels": "neg,pos"}, "labels: must be a list"),
    ({"version": "../../x"}, "version: '../../x' may only contain"),
    ({"name": "n" * 65}, "may only contain letters, digits"),
])
def test_config_values_are_checked(tiny, changes, message):
    _write_config(tiny, **changes)
    with pytest.raises(ProjectError) as info:
        load_project(tiny)
    assert message in str(info.value)


def test_every_problem_in_one_error(tiny):
    _write_config(tiny, targets={"rpi": {"pyhton": ["3.11"]}, "wasm": {"precision": "fast"}},
                 quantization__mode="dinamic", examples__texts=3)
    with pytest.raises(ProjectError, match=r"4 problem\(s\)"):
        load_project(tiny)


def test_hf_labels_default_to_config_json(tmp_path):
    """[model] hf without labels: Project.labels is config.json's id2label, in id order."""
    from tests.hf.hf_tiny import make_folder, write_project

    folder = make_folder(tmp_path / "p" / "hf", task="text-classification", num_labels=3)
    config = folder / "config.json"
    data = json.loads(config.read_text())
    data["id2label"] = {"0": "neg", "1": "neutral", "2": "pos"}
    data["label2id"] = {v: int(k) for k, v in data["id2label"].items()}
    config.write_text(json.dumps(data))
    project = write_project(tmp_path / "p", folder, task="text-classification")
    text = (project / "edgepack.toml").read_text()
    (project / "edgepack.toml").write_text("\n".join(line for line in text.splitlines() if not line.startswith("labels")))
    assert load_project(project).labels == ["neg", "neutral", "pos"]


def test_truncation_from_a_manifest_is_bounded():
    tok = Tokenizer.from_dict(base.tokenizer_spec())
    with pytest.raises(TokenizerSpecError, match="enable_truncation: max_length a number of about 31 digits"):
        tok.enable_truncation(10 ** 30)
    tok.enable_truncation(64)
    assert tok.truncation["max_length"] == 64
