"""A tiny text classifier artifact, made from scratch, for the browser tests.

The model is built with onnx.helper (embedding -> tanh projection -> masked mean -> linear ->
softmax), so it is small, deterministic and needs no training; the tokenizer is a WordLevel
tokenizer.json made by HF ``tokenizers``; the manifest is written by edgepack's own writer with
golden vectors computed by Python ONNX Runtime -- the oracle the browser is held to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LABELS = ["negative", "neutral", "positive"]
WORDS = (
    "the a an is was were be this that it movie film plot actor actors story ending music great good "
    "excellent wonderful loved love fine okay average bad terrible awful boring hated hate not very "
    "really so quite , . ! ?"
).split()
TEXTS = [
    "This movie was great!",
    "The plot was boring and the ending awful.",
    "It was okay, not very good.",
    "I loved the music, really wonderful.",
    "average film",
]
MAX_LENGTH = 32
DIM = 8


def make_tokenizer_json() -> str:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {"[PAD]": 0, "[UNK]": 1}
    for w in WORDS:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.enable_truncation(max_length=MAX_LENGTH)
    return tok.to_str(pretty=True)


def make_model(vocab_size: int, seed: int = 0, task: str = "text-classification"):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    init = {
        "E": rng.normal(0, 1.0, (vocab_size, DIM)).astype(np.float32),
        "W1": rng.normal(0, 0.7, (DIM, DIM)).astype(np.float32),
        "b1": rng.normal(0, 0.1, (DIM,)).astype(np.float32),
        "W2": rng.normal(0, 1.5, (DIM, len(LABELS))).astype(np.float32),
        "b2": rng.normal(0, 0.1, (len(LABELS),)).astype(np.float32),
        "axis1": np.array([1], dtype=np.int64),
        "axis2": np.array([2], dtype=np.int64),
        "one": np.array(1.0, dtype=np.float32),
    }
    nodes = [
        helper.make_node("Gather", ["E", "input_ids"], ["emb"]),
        helper.make_node("MatMul", ["emb", "W1"], ["proj"]),
        helper.make_node("Add", ["proj", "b1"], ["proj_b"]),
        helper.make_node("Tanh", ["proj_b"], ["h"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["h", "mask3"], ["hm"]),
        helper.make_node("ReduceSum", ["hm", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["count1"]),  # an all-padding row divides by 1, not 0
        helper.make_node("Div", ["summed", "count1"], ["pooled"]),
    ]
    if task == "text-classification":
        out_name, out_dim = "probabilities", len(LABELS)
        nodes += [
            helper.make_node("MatMul", ["pooled", "W2"], ["logits0"]),
            helper.make_node("Add", ["logits0", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ]
    else:  # feature-extraction: L2-normalised mean pooling, in the graph like edgepack's exports
        out_name, out_dim = "embeddings", DIM
        nodes += [helper.make_node("LpNormalization", ["pooled"], ["embeddings"], axis=-1, p=2)]
        for k in ("W2", "b2"):
            del init[k]
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", out_dim])],
        [numpy_helper.from_array(v, name=k) for k, v in init.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgepack-tests")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def make_tiny_artifact(root: Path, with_int8: bool = True, task: str = "text-classification") -> Path:
    """Write model.fp32.onnx (+ model.int8.onnx), tokenizer.json and manifest.json into ``root``."""
    import onnx
    from tokenizers import Tokenizer

    from edgepack.manifest_writer import tool_versions, write_manifest
    from edgepack.runtime.artifacts import PRECISION_FILES, PRECISION_TOLERANCE
    from edgepack.runtime.session import create_session

    root.mkdir(parents=True, exist_ok=True)
    tok_json = make_tokenizer_json()
    (root / "tokenizer.json").write_text(tok_json, encoding="utf-8")
    tok = Tokenizer.from_str(tok_json)
    onnx.save(make_model(tok.get_vocab_size(), task=task), str(root / PRECISION_FILES["fp32"]))
    output = "probabilities" if task == "text-classification" else "embeddings"
    width = len(LABELS) if task == "text-classification" else DIM
    precisions = {"fp32": {"file": PRECISION_FILES["fp32"], "tolerance": PRECISION_TOLERANCE["fp32"]}}
    if with_int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(root / PRECISION_FILES["fp32"], root / PRECISION_FILES["int8"], weight_type=QuantType.QInt8)
        precisions["int8"] = {"file": PRECISION_FILES["int8"], "tolerance": PRECISION_TOLERANCE["int8"]}

    sessions = {p: create_session(root / e["file"]) for p, e in precisions.items()}
    golden = []
    for text in TEXTS:
        enc = tok.encode(text)
        feeds = {
            "input_ids": np.array([enc.ids], dtype=np.int64),
            "attention_mask": np.array([enc.attention_mask], dtype=np.int64),
        }
        outputs = {
            p: {output: np.asarray(s.run([output], feeds)[0][0], dtype=np.float64).round(9).tolist()}
            for p, s in sessions.items()
        }
        golden.append(
            {"text": text, "pair": None, "input_ids": list(enc.ids), "attention_mask": list(enc.attention_mask), "outputs": outputs}
        )
    manifest = {
        "model": {"name": "tiny", "version": "0.0.1", "task": task,
                  "labels": LABELS if task == "text-classification" else [], "max_length": MAX_LENGTH},
        "inputs": [
            {"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]},
            {"name": "attention_mask", "dtype": "int64", "shape": ["batch", "sequence"]},
        ],
        "outputs": [{"name": output, "dtype": "float32", "shape": ["batch", width]}],
        "precisions": precisions,
        "default_precision": "fp32",
        "tokenizer": {"file": "tokenizer.json"},
        "tools": tool_versions("tokenizers"),
        "golden": golden,
        "examples": TEXTS[:4],
    }
    write_manifest(root, manifest)
    return root
