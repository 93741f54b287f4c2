"""The fuzz suite's seed projects: tiny, made in the test, exported in well under a second.

Three model sources (factory + safetensors, factory + .pt state_dict, an ONNX file), one WordLevel
tokenizer of 16 tokens. Each project also gets a real ``build/`` (its first export), the
"previous build" every failed case must leave byte-identical.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

WORDS = ["[PAD]", "[UNK]", "good", "bad", "movie", "food", "great", "awful", "the", "was", "is", "ok",
         "service", "cold", "warm", "day"]
VOCAB = {w: i for i, w in enumerate(WORDS)}
DIM, LABELS = 4, ["neg", "pos"]

MODEL_PY = '''
import torch
from torch import nn


class Tiny(nn.Module):
    """Masked mean of embeddings -> linear: a few hundred bytes of weights."""

    def __init__(self, vocab_size=16, dim=4, classes=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.fc = nn.Linear(dim, classes)

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.unsqueeze(-1).to(torch.float32)
        pooled = (self.embedding(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.fc(pooled)
'''


def tokenizer_spec() -> dict:
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": 0, "content": "[PAD]", "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True},
            {"id": 1, "content": "[UNK]", "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True},
        ],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": dict(VOCAB), "unk_token": "[UNK]"},
    }


def weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "embedding.weight": rng.normal(size=(len(WORDS), DIM)).astype(np.float32),
        "fc.weight": rng.normal(size=(len(LABELS), DIM)).astype(np.float32),
        "fc.bias": rng.normal(size=(len(LABELS),)).astype(np.float32),
    }


def toml_value(v) -> str:
    """A small TOML writer (no tomli_w in the venv): enough for the configs the fuzzer makes."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def dump_toml(config: dict) -> str:
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    for k, v in config.items():
        if isinstance(v, dict):
            lines.append(f"\n[{json.dumps(k)}]")
            lines += [f"{json.dumps(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def config(source: str) -> dict:
    model = {"onnx": "model.onnx", "output": "probabilities"} if source == "onnx" else {
        "factory": "model.py:Tiny", "weights": "model.safetensors" if source == "safetensors" else "model.pt",
        "args": {"vocab_size": len(WORDS), "dim": DIM, "classes": len(LABELS)}}
    return {
        "name": f"fuzz-{source}", "version": "1.0.0", "task": "text-classification", "labels": list(LABELS),
        "max_length": 16, "tokenizer": "tokenizer.json",
        "model": model,
        "export": {"parity_samples": 64},
        "examples": {"texts": ["the movie was great", "the food was cold", "ok"]},
        "evaluation": {"file": "eval.tsv"},
        "quantization": {"mode": "dynamic", "calibration": "calibration.txt"},
        "targets": {"wasm": {"precision": "auto"}, "rpi": {"precision": "auto", "python": ["3.11"]}},
    }


def onnx_bytes(w: dict[str, np.ndarray] | None = None, *, outputs: bool = True, external: str | None = None) -> bytes:
    """The Tiny model as a hand-built ONNX graph (softmax inside), no torch involved."""
    from onnx import TensorProto, helper, numpy_helper

    w = w or weights()
    emb = numpy_helper.from_array(w["embedding.weight"], "emb")
    fc_w = numpy_helper.from_array(np.ascontiguousarray(w["fc.weight"].T), "fc_w")
    fc_b = numpy_helper.from_array(w["fc.bias"], "fc_b")
    axis = numpy_helper.from_array(np.array([1], np.int64), "axis1")
    last = numpy_helper.from_array(np.array([-1], np.int64), "axis_last")
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    nodes = [
        helper.make_node("Gather", ["emb", "input_ids"], ["e"]),
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["m", "axis_last"], ["m3"]),
        helper.make_node("Mul", ["e", "m3"], ["em"]),
        helper.make_node("ReduceSum", ["em", "axis1"], ["s"], keepdims=0),
        helper.make_node("ReduceSum", ["m3", "axis1"], ["n"], keepdims=0),
        helper.make_node("Max", ["n", "one"], ["n1"]),
        helper.make_node("Div", ["s", "n1"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "fc_w"], ["z"]),
        helper.make_node("Add", ["z", "fc_b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
           for n in ("input_ids", "attention_mask")]
    outs = [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(LABELS)])] if outputs else []
    graph = helper.make_graph(nodes, "tiny", ins, outs, [emb, fc_w, fc_b, axis, last, one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if external is not None:  # the embedding's bytes "live" in an external file at ``external``
        t = model.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", external), ("offset", "0"), ("length", str(w["embedding.weight"].nbytes))):
            e = t.external_data.add()
            e.key, e.value = k, v
    return model.SerializeToString()


def pt_bytes(state) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def write_project(root: Path, source: str) -> Path:
    from safetensors.numpy import save_file

    root.mkdir(parents=True)
    (root / "edgepack.toml").write_text(dump_toml(config(source)), encoding="utf-8")
    (root / "tokenizer.json").write_text(json.dumps(tokenizer_spec(), indent=1), encoding="utf-8")
    (root / "eval.tsv").write_text("text\tlabel\nthe movie was great\tpos\nthe food was cold\tneg\n", encoding="utf-8")
    (root / "calibration.txt").write_text("the movie was great\nok\n", encoding="utf-8")
    w = weights()
    if source == "onnx":
        (root / "model.onnx").write_bytes(onnx_bytes(w))
    else:
        (root / "model.py").write_text(MODEL_PY, encoding="utf-8")
        if source == "safetensors":
            save_file(w, str(root / "model.safetensors"))
        else:
            import torch

            (root / "model.pt").write_bytes(pt_bytes({k: torch.from_numpy(v) for k, v in w.items()}))
    return root
