"""`[model] onnx` sources: edgepack's one output (softmax appended to logits, outputs renamed), or a
typed refusal that says why -- never a silent wrong answer, never a traceback.

The ONNX files are made here from tiny torch modules (legacy exporter: fast, no onnxscript)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from tests.repo_support import SAMPLES, run_cli
from edgepack.errors import ModelLoadError, ProjectError
from edgepack.export import export_project
from edgepack.runtime.pipeline import Pipeline

VOCAB = 367  # samples/sentiment/tokenizer.json
TEXTS = ["This movie was really great and amazing", "The service was terrible", "The museum opens at 9"]


class Tiny(torch.nn.Module):
    """Embedding -> masked mean -> Linear; ``kind`` picks what forward returns."""

    def __init__(self, kind: str = "logits", rows: int = VOCAB, classes: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.kind = kind
        self.emb = torch.nn.Embedding(rows, 8)
        self.fc = torch.nn.Linear(8, classes)
        with torch.no_grad():
            self.fc.weight.mul_(5)  # distinct, confident rows: a double softmax would visibly flatten them

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.unsqueeze(-1).float()
        tokens = self.emb(input_ids) * mask
        pooled = tokens.sum(1) / mask.sum(1).clamp(min=1)
        logits = self.fc(pooled)
        if self.kind == "probabilities":
            return torch.softmax(logits, -1)
        if self.kind == "two":
            return logits, pooled
        if self.kind == "tokens":
            return tokens
        if self.kind == "pooled":
            return pooled
        return logits


def _make_onnx(path: Path, kind: str = "logits", names=("out",), rows: int = VOCAB) -> Tiny:
    module = Tiny(kind, rows).eval()
    ids = torch.randint(0, min(rows, VOCAB), (2, 5))
    axes = {"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}} | {n: {0: "b"} for n in names}
    torch.onnx.export(module, (ids, torch.ones_like(ids)), str(path), input_names=["input_ids", "attention_mask"],
                      output_names=list(names), dynamic_axes=axes, dynamo=False, opset_version=17)
    return module


def _make_project(root: Path, task: str = "text-classification", output: str | None = None, labels=None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLES / "sentiment" / "tokenizer.json", root / "tokenizer.json")
    lines = ['name = "tiny-onnx"', 'version = "0.1.0"', f'task = "{task}"', "max_length = 32",
             'tokenizer = "tokenizer.json"']
    if task == "text-classification":
        lines.append(f"labels = {json.dumps(labels or ['Negative', 'Neutral', 'Positive'])}")
    lines += ["", "[model]", 'onnx = "model.onnx"'] + ([f'output = "{output}"'] if output else [])
    lines += ["", "[examples]", f"texts = {json.dumps(TEXTS)}", ""]
    (root / "edgepack.toml").write_text("\n".join(lines))
    return root


def _export_quiet(project: Path):
    return export_project(project)


@pytest.mark.parametrize("kind,output", [("logits", None), ("logits", "logits"), ("probabilities", "probabilities")])
def test_classifier_returns_probabilities_equal_to_torch(tmp_path, kind, output):
    project = _make_project(tmp_path / "p", output=output)
    module = _make_onnx(project / "model.onnx", kind, names=("probabilities",) if kind == "probabilities" else ("logits",))
    result = _export_quiet(project)
    model = onnx.load(str(project / "build" / "model.fp32.onnx"))
    assert [o.name for o in model.graph.output] == ["probabilities"]
    assert ("Softmax" in {n.op_type for n in model.graph.node}) is True
    assert [o["name"] for o in result.manifest["outputs"]] == ["probabilities"]
    pipe = Pipeline.load(project / "build")
    assert pipe.self_test().ok
    rows = pipe.predict(TEXTS)
    want = _reference(module, pipe, TEXTS)
    for row, ref in zip(rows, want):
        got = [row["probabilities"][label] for label in ("Negative", "Neutral", "Positive")]
        assert abs(sum(got) - 1) < 1e-5
        np.testing.assert_allclose(got, ref, atol=1e-5)


def _reference(module: Tiny, pipe: Pipeline, texts) -> np.ndarray:
    """Softmax of the torch module's logits, fed exactly the ids the runtime fed (one text at a time)."""
    from edgepack.runtime.tokenizer import Tokenizer

    tok = Tokenizer.from_file(SAMPLES / "sentiment" / "tokenizer.json")
    out = []
    for text in texts:
        ids = torch.tensor([tok.encode(text).ids[:32]])
        with torch.inference_mode():
            probs = module.forward(ids, torch.ones_like(ids))
            if module.kind != "probabilities":
                probs = torch.softmax(probs, -1)
        out.append(probs[0].numpy())
    return np.array(out)


def test_output_named_probabilities_is_not_softmaxed_twice(tmp_path):
    """An output already called `probabilities`, [model] output unset: taken at its word and checked."""
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "probabilities", names=("probabilities",))
    _export_quiet(project)
    model = onnx.load(str(project / "build" / "model.fp32.onnx"))
    assert sum(n.op_type == "Softmax" for n in model.graph.node) == 1
    assert _export_quiet(project).manifest["stages"]["export"]["output"] == "probabilities"


def test_logits_declared_as_probabilities_are_refused(tmp_path):
    project = _make_project(tmp_path / "p", output="probabilities")
    _make_onnx(project / "model.onnx", "logits", names=("scores",))
    with pytest.raises(ProjectError, match=r'output = "probabilities", but the output\'s rows are not probabilities: '
                                           r'example\[0\] sums to .*set \[model\] output = "logits"'):
        _export_quiet(project)
    assert not (project / "build").exists()


def test_logits_output_with_another_name_gets_softmax(tmp_path):
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "logits", names=("output_0",))
    _export_quiet(project)
    model = onnx.load(str(project / "build" / "model.fp32.onnx"))
    last = [n for n in model.graph.node if n.output[0] == "probabilities"]
    assert len(last) == 1 and last[0].op_type == "Softmax" and last[0].input[0] == "output_0"


def test_several_outputs_none_selectable_are_refused_by_name(tmp_path):
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "two", names=("scores", "pooled"))
    with pytest.raises(ModelLoadError, match=r"2 outputs \(scores, pooled\) and none is named 'logits'"):
        _export_quiet(project)


def test_several_outputs_one_named_logits_is_selected(tmp_path):
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "two", names=("logits", "pooled"))
    result = _export_quiet(project)
    assert [o["name"] for o in result.manifest["outputs"]] == ["probabilities"]
    assert Pipeline.load(project / "build").self_test().ok


def test_class_count_must_match_labels(tmp_path):
    project = _make_project(tmp_path / "p", labels=["a", "b"])
    _make_onnx(project / "model.onnx", "logits", names=("logits",))
    with pytest.raises(ProjectError, match=r"3 classes but labels lists 2"):
        _export_quiet(project)


def test_feature_extraction_output_renamed_embeddings(tmp_path):
    project = _make_project(tmp_path / "p", task="feature-extraction")
    _make_onnx(project / "model.onnx", "pooled", names=("pooled",))
    result = _export_quiet(project)
    assert [o["name"] for o in result.manifest["outputs"]] == ["embeddings"]
    assert result.manifest["outputs"][0]["shape"][-1] == 8
    assert Pipeline.load(project / "build").self_test().ok


def test_token_embeddings_3d_are_refused_naming_the_shape(tmp_path):
    project = _make_project(tmp_path / "p", task="feature-extraction")
    _make_onnx(project / "model.onnx", "tokens", names=("tokens",))
    with pytest.raises(ModelLoadError, match=r"output 'tokens' has shape \['b', 's', 8\], edgepack needs "
                                             r"\[batch, dim\].*pool them in the graph"):
        _export_quiet(project)


def test_3d_classifier_output_is_refused(tmp_path):
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "tokens", names=("logits",))
    with pytest.raises(ModelLoadError, match=r"shape \['b', 's', 8\], edgepack needs \[batch, n_labels\]"):
        _export_quiet(project)


# -- broken sources: typed errors naming the file ------------------------------------------------

@pytest.fixture(scope="module")
def good_onnx(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    _make_onnx(path, "logits", names=("logits",))
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "text", "empty", "flipped"])
def test_corrupt_onnx_is_a_model_load_error(tmp_path, good_onnx, damage):
    project = _make_project(tmp_path / "p")
    data = {"truncated": good_onnx[: len(good_onnx) // 2], "garbage": bytes(range(256)) * 40,
            "text": b"name = 'not onnx'\n" * 10, "empty": b"",
            "flipped": good_onnx[:200] + bytes(b ^ 0xFF for b in good_onnx[200:400]) + good_onnx[400:]}[damage]
    (project / "model.onnx").write_bytes(data)
    result = run_cli("export", str(project), "--json")
    assert result.returncode in (2, 3, 5), result.stderr
    assert "Traceback" not in result.stderr
    assert "model.onnx" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["error"]["exit_code"] == result.returncode
    assert not (project / "build").exists()


def test_truncated_onnx_names_the_file(tmp_path, good_onnx):
    project = _make_project(tmp_path / "p")
    (project / "model.onnx").write_bytes(good_onnx[: len(good_onnx) // 2])
    with pytest.raises(ModelLoadError, match=r"model.onnx is not a readable ONNX model"):
        _export_quiet(project)


def _with_external_data(project: Path, location: str) -> None:
    model = onnx.load(str(project / "model.onnx"))
    for t in model.graph.initializer:
        if t.name.endswith("emb.weight"):
            from onnx.external_data_helper import set_external_data

            data = onnx.numpy_helper.to_array(t).tobytes()
            outside = (project / location)
            outside.parent.mkdir(parents=True, exist_ok=True)
            outside.write_bytes(data)
            set_external_data(t, location=location, length=len(data))
            t.ClearField("raw_data")
            t.data_location = onnx.TensorProto.EXTERNAL
    onnx.save(model, str(project / "model.onnx"))


def test_external_data_outside_the_folder_is_refused(tmp_path):
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "logits", names=("logits",))
    _with_external_data(project, "../secret.bin")
    with pytest.raises(ModelLoadError, match=r"keeps its data in '../secret.bin', outside the model's folder"):
        _export_quiet(project)


def test_external_data_next_to_the_model_is_read(tmp_path):
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "logits", names=("logits",))
    _with_external_data(project, "model.onnx.data")
    _export_quiet(project)
    assert not (project / "build" / "model.onnx.data").exists()  # consolidated into one file
    assert Pipeline.load(project / "build").self_test().ok
    # The data file is part of the model: changing it must re-run the export in `build`.
    from edgepack.export import export_fingerprint as fingerprint
    from edgepack.project import load_project

    before = fingerprint(load_project(project))
    data = bytearray((project / "model.onnx.data").read_bytes())
    data[0] ^= 1
    (project / "model.onnx.data").write_bytes(bytes(data))
    assert fingerprint(load_project(project)) != before


def _edit(project: Path, change) -> None:
    model = onnx.load(str(project / "model.onnx"))
    change(model.graph)
    onnx.save(model, str(project / "model.onnx"))


@pytest.mark.parametrize("case,pattern", [
    ("no outputs", r"the graph has no outputs"),
    ("no inputs", r"the graph has no inputs"),
    ("unknown input", r"graph input\(s\) \['ids'\] are not ones edgepack feeds"),
])
def test_graph_io_is_checked(tmp_path, case, pattern):
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "logits", names=("logits",))

    def change(graph):
        if case == "no outputs":
            del graph.output[:]
        elif case == "no inputs":
            del graph.input[:]
        else:
            from edgepack.onnx_source import _rename

            _rename(graph, "input_ids", "ids")

    _edit(project, change)
    with pytest.raises(ModelLoadError, match=pattern):
        _export_quiet(project)


def test_tokenizer_larger_than_the_onnx_embedding_is_refused_up_front(tmp_path):
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "logits", names=("logits",), rows=100)
    with pytest.raises(ModelLoadError, match=r"tokenizer ids go up to 366 .* but the model's embedding "
                                             r"\(initializer '.*emb.weight' gathered by input_ids\) has 100 rows"):
        _export_quiet(project)
    result = run_cli("export", str(project))
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_softmax_output_declared_as_logits_is_refused(tmp_path):
    project = _make_project(tmp_path / "p", output="logits")
    _make_onnx(project / "model.onnx", "probabilities", names=("scores",))
    with pytest.raises(ProjectError, match=r"output 'scores' comes from a Softmax node: a second softmax"):
        _export_quiet(project)


def test_softmax_output_with_output_unset_is_used_as_probabilities(tmp_path):
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "probabilities", names=("scores",))
    result = _export_quiet(project)
    assert result.manifest["stages"]["export"]["output"] == "probabilities"
    model = onnx.load(str(project / "build" / "model.fp32.onnx"))
    assert sum(n.op_type == "Softmax" for n in model.graph.node) == 1


def test_graph_onnx_runtime_cannot_load_names_the_source(tmp_path):
    """A graph that onnx accepts but ONNX Runtime cannot run (an op from an unknown domain)."""
    project = _make_project(tmp_path / "p")
    _make_onnx(project / "model.onnx", "logits", names=("logits",))

    def change(graph):
        node = next(n for n in graph.node if n.op_type == "Gemm" or n.op_type == "MatMul")
        node.domain = "com.example.custom"

    def add_domain(model):
        model.opset_import.append(onnx.helper.make_opsetid("com.example.custom", 1))

    model = onnx.load(str(project / "model.onnx"))
    change(model.graph)
    add_domain(model)
    onnx.save(model, str(project / "model.onnx"))
    result = run_cli("export", str(project), "--json")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    assert doc["error"]["type"] == "ModelLoadError" and "[model] onnx = 'model.onnx'" in doc["error"]["message"]
