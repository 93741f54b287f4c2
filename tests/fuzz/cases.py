"""The fuzz cases, per kind: seeded generators of (label, source project, mutation)."""

from __future__ import annotations

import json
import pickle
import random
import struct
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Callable

from tests.fuzz import base
from tests.fuzz.mutate import (DIGITS_5000, SPECIALS, make_special, mutate_bytes, mutate_json, nested_text,
                               sparse_file, values)


@dataclass
class Case:
    label: str
    source: str  # which seed project: safetensors | pt | onnx
    apply: Callable[[Path, Path], None]  # (project, outside) -> None: mutate the copy
    expect_code: int | None = None  # the exact exit code, where the case decides it
    mentions: str | None = None  # text the error message must contain
    timeout: float | None = None


def _write_text(name: str, text: str):
    def apply(project: Path, _outside: Path) -> None:
        (project / name).write_text(text, encoding="utf-8")
    return apply


def _write_bytes(name: str, data: bytes):
    def apply(project: Path, _outside: Path) -> None:
        (project / name).write_bytes(data)
    return apply


def _set_config(cfg: dict):
    return _write_text("edgepack.toml", base.dump_toml(cfg))


# ---- edgepack.toml ------------------------------------------------------------------------------

TOML_KEYS = [("name",), ("version",), ("task",), ("labels",), ("max_length",), ("tokenizer",), ("description",),
             ("allow_outside_paths",), ("max_lenght",), ("model", "factory"), ("model", "weights"), ("model", "args"),
             ("model", "onnx"), ("model", "hf"), ("model", "inputs"), ("model", "output"), ("model", "trust_code"),
             ("model", "outptu"), ("export", "exporter"), ("export", "opset"), ("export", "tolerance"),
             ("export", "parity_samples"), ("export", "seed"), ("examples", "texts"), ("evaluation", "file"),
             ("quantization", "mode"), ("quantization", "per_channel"), ("quantization", "calibration"),
             ("quantization", "min_agreement"), ("quantization", "max_slowdown"), ("quantization", "extra_precisions"),
             ("quantization", "exclude_nodes"), ("targets", "wasm"), ("targets", "rpi"), ("targets", "pyodide"),
             ("targets", "wasm", "precision"), ("targets", "wasm", "precison"), ("targets", "rpi", "python"),
             ("targets", "rpi", "pyhton"), ("targets", "gpu"), ("examples",), ("model",), ("targets",)]
TOML_TEXT_VALUES = ["dinamic", "Dynamic", "int4", "fp16", "../tokenizer.json", "/etc/passwd", "build", "build/tokenizer.json",
                    "model.py:Tiny", "model.py", "os:system", "json:loads", "x" * 300]


def toml_case(rng: random.Random) -> Case:
    source = rng.choice(["safetensors", "onnx", "onnx", "pt"])
    cfg = base.config(source)
    r = rng.random()
    if r < 0.25:
        text = base.dump_toml(cfg).encode()
        op, data = mutate_bytes(text, rng)
        return Case(f"bytes {op}", source, _write_bytes("edgepack.toml", data))
    if r < 0.35:
        depth = rng.choice([65, 300, 3000])
        kind = rng.choice(["[", "toml"])
        key = rng.choice(["labels", "texts", "args", "python"])
        nested = nested_text(depth, kind)
        text = base.dump_toml(cfg)
        text = {"labels": lambda: text.replace('"labels" = ', f'"labels" = {nested}\n"x_old_labels" = ', 1),
                "texts": lambda: text + f"\n[more]\ntexts = {nested}\n",
                "args": lambda: text.replace('"max_length" = 16', f'"max_length" = 16\n"deep" = {nested}', 1),
                "python": lambda: text + f"\n[targets.pyodide]\nprecision = {nested}\n"}[key]()
        return Case(f"deep nesting {depth} ({kind}) at {key}", source, _write_text("edgepack.toml", text))
    if r < 0.42:
        key = rng.choice(["max_length", "seed", "opset", "parity_samples"])
        number = rng.choice([DIGITS_5000, str(10 ** 30), str(2 ** 63 - 1), "-9223372036854775808", "0", "-1"])
        text = base.dump_toml(cfg)
        if key == "max_length":
            text = text.replace('"max_length" = 16', f'"max_length" = {number}')
        else:
            text = text.replace('"parity_samples" = 64', f'"{key}" = {number}')
        return Case(f"huge number {number[:12]} at {key}", source, _write_text("edgepack.toml", text))
    path = rng.choice(TOML_KEYS)
    op = rng.choice(["set", "set", "set", "delete"])
    table = cfg
    for k in path[:-1]:
        table = table.setdefault(k, {}) if isinstance(table.get(k, {}), dict) else {}
    if op == "delete":
        table.pop(path[-1], None)
        label = f"delete {'.'.join(path)}"
    else:
        value = rng.choice(TOML_TEXT_VALUES) if rng.random() < 0.3 else values(rng)
        table[path[-1]] = value
        label = f"set {'.'.join(path)} = {type(value).__name__} {str(value)[:20]!r}"
    return Case(label, source, _set_config(cfg))


# ---- tokenizer.json -----------------------------------------------------------------------------

def _targeted_tokenizer(rng: random.Random) -> tuple[str, str, str | None]:
    """(label, tokenizer.json text, source override): numbers and shapes that broke things before."""
    spec = base.tokenizer_spec()
    choice = rng.randrange(12)
    if choice == 0:
        spec["model"]["vocab"]["huge"] = rng.choice([2 ** 31, 2 ** 40, 2 ** 63, 2 ** 64])
        return "vocab id huge", json.dumps(spec), None
    if choice == 1:
        text = json.dumps(spec).replace('"day": 15', f'"day": {DIGITS_5000}')
        return "vocab id of 5000 digits", text, None
    if choice == 2:
        spec["added_tokens"][0]["id"] = rng.choice([-1, 2 ** 63, -(2 ** 63)])
        return "added token id out of range", json.dumps(spec), None
    if choice == 3:
        spec["padding"] = {"strategy": {"Fixed": rng.choice([10 ** 12, 2 ** 62, -5])}, "direction": "Right",
                           "pad_to_multiple_of": None, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}
        return "padding Fixed huge", json.dumps(spec), None
    if choice == 4:
        spec["truncation"] = {"direction": "Right", "max_length": rng.choice([10 ** 18, 2 ** 31, 70000]),
                              "strategy": "LongestFirst", "stride": 0}
        return "truncation max_length huge", json.dumps(spec), None
    if choice == 5:
        spec["padding"] = {"strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None,
                           "pad_id": rng.choice([2 ** 64, 2 ** 31, -1]), "pad_type_id": 0, "pad_token": "[PAD]"}
        return "pad_id huge", json.dumps(spec), None
    if choice == 6:
        depth = rng.choice([70, 3000])
        inner = '{"type": "Sequence", "normalizers": [' * depth + '{"type": "Lowercase"}' + "]}" * depth
        text = json.dumps(spec).replace(json.dumps(spec["normalizer"]), inner)
        return f"normalizer Sequence nested {depth}", text, None
    if choice == 7:
        text = '{"version": "1.0", "model": ' + nested_text(rng.choice([100, 100_000])) + "}"
        return "deep array", text, None
    if choice == 8:  # ids beyond the model's 16 embedding rows, and used by the examples
        for k in range(40):
            spec["model"]["vocab"][f"w{k}"] = 16 + k
        return "vocabulary larger than the embedding", json.dumps(spec), "safetensors"
    if choice == 9:
        spec["model"]["vocab"] = {f"t{k}": k * 1000 for k in range(16)}
        return "sparse ids", json.dumps(spec), None
    if choice == 10:
        spec["post_processor"] = {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "X", "type_id": 0}},
                                  {"Sequence": {"id": "A", "type_id": 0}}],
                                  "pair": [], "special_tokens": {"X": {"id": "X", "ids": [rng.choice(["a", 2 ** 40, None])],
                                                                       "tokens": ["X"]}}}
        return "special token id not an int", json.dumps(spec), None
    spec["model"]["vocab"] = rng.choice([[], "x", None, {"a": "b"}, {"a": 1.5}, {"a": True}])
    return "vocab of the wrong type", json.dumps(spec), None


def tokenizer_case(rng: random.Random) -> Case:
    source = rng.choice(["onnx", "onnx", "safetensors"])
    r = rng.random()
    if r < 0.25:
        op, data = mutate_bytes(json.dumps(base.tokenizer_spec(), indent=1).encode(), rng)
        return Case(f"bytes {op}", source, _write_bytes("tokenizer.json", data))
    if r < 0.45:
        label, text, override = _targeted_tokenizer(rng)
        return Case(label, override or source, _write_text("tokenizer.json", text))
    op, doc = mutate_json(base.tokenizer_spec(), rng)
    return Case(f"json {op}", source, _write_text("tokenizer.json", json.dumps(doc)))


# ---- safetensors --------------------------------------------------------------------------------

def _safetensors_parts() -> tuple[dict, bytes]:
    from safetensors.numpy import save

    raw = save(base.weights())
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _pack(header, data: bytes, length: int | None = None) -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def safetensors_case(rng: random.Random) -> Case:
    header, data = _safetensors_parts()
    raw = _pack(header, data)
    r = rng.random()
    if r < 0.55:
        op, out = mutate_bytes(raw, rng, focus=8 + len(json.dumps(header)))
        return Case(f"bytes {op}", "safetensors", _write_bytes("model.safetensors", out))
    if r < 0.75:
        choice = rng.randrange(8)
        key = rng.choice(sorted(k for k in header if k != "__metadata__"))
        if choice == 0:
            header[key]["dtype"] = rng.choice(["F64", "I8", "XX", "BOOL", 5])
        elif choice == 1:
            header[key]["shape"] = rng.choice([[10 ** 12, 4], [-1], [], [2 ** 63], "x"])
        elif choice == 2:
            header[key]["data_offsets"] = rng.choice([[0, 2 ** 63], [0, 10 ** 30], [5, 1], [0], None])
        elif choice == 3:
            return Case("header length huge", "safetensors",
                        _write_bytes("model.safetensors", _pack(header, data, rng.choice([2 ** 63, 2 ** 40, 10 ** 9]))))
        elif choice == 4:
            header["__metadata__"] = rng.choice([{"a": 1}, [1], "x", {"format": nested_text(10)}])
        elif choice == 5:
            deep = nested_text(rng.choice([100, 5000])).encode()
            return Case("header deeply nested", "safetensors", _write_bytes("model.safetensors", _pack(deep, data)))
        elif choice == 6:
            header[key + "_extra"] = dict(header[key])
        else:
            del header[key]
        return Case(f"header field {choice} of {key}", "safetensors", _write_bytes("model.safetensors", _pack(header, data)))
    op, doc = mutate_json(header, rng)
    return Case(f"header json {op}", "safetensors", _write_bytes("model.safetensors", _pack(doc, data)))


# ---- .pt ----------------------------------------------------------------------------------------

def _pt_variant(rng: random.Random) -> tuple[str, bytes]:
    import torch

    state = {k: torch.from_numpy(v) for k, v in base.weights().items()}
    k = rng.randrange(12)
    if k == 0:
        state["fc.bias"] = rng.choice([3, "x", [1.0, 2.0], None, {"a": torch.zeros(2)}])
        return "a non-tensor value", base.pt_bytes(state)
    if k == 1:
        return "a list, not a dict", base.pt_bytes(list(state.values()))
    if k == 2:
        return "a bare tensor", base.pt_bytes(torch.zeros(3))
    if k == 3:
        state["embedding.weight"] = torch.zeros(rng.choice([(3, 4), (16,), (16, 4, 1)]))
        return "a mis-shaped tensor", base.pt_bytes(state)
    if k == 4:
        del state["fc.weight"]
        return "a missing key", base.pt_bytes(state)
    if k == 5:
        state["extra"] = torch.zeros(1)
        return "an extra key", base.pt_bytes(state)
    if k == 6:  # a classic pickle that asks to run os.system
        return "a pickle calling os.system", b"cos\nsystem\n(S'echo pwned'\ntR."
    if k == 7:
        buf = BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("archive/code/__torch__.py", "def f(): pass\n")
            zf.writestr("archive/constants.pkl", pickle.dumps(()))
        return "a TorchScript-shaped archive", buf.getvalue()
    if k == 8:
        return "a full nn.Module pickle", base.pt_bytes(torch.nn.Linear(4, 2))
    if k == 9:
        state["embedding.weight"] = state["embedding.weight"].to(rng.choice([torch.int64, torch.float16, torch.bool]))
        return "another dtype", base.pt_bytes(state)
    if k == 10:
        return "nested state dict", base.pt_bytes({"state_dict": state, "epoch": 3})
    return "a text file", b"not a checkpoint\n"


def pt_case(rng: random.Random) -> Case:
    import torch

    if rng.random() < 0.5:
        raw = base.pt_bytes({k: torch.from_numpy(v) for k, v in base.weights().items()})
        op, out = mutate_bytes(raw, rng)
        return Case(f"bytes {op}", "pt", _write_bytes("model.pt", out))
    label, out = _pt_variant(rng)
    return Case(label, "pt", _write_bytes("model.pt", out))


# ---- ONNX ---------------------------------------------------------------------------------------

def _onnx_variant(rng: random.Random) -> tuple[str, Callable[[Path, Path], None]]:
    import onnx

    k = rng.randrange(9)
    if k == 0:
        return "no outputs", _write_bytes("model.onnx", base.onnx_bytes(outputs=False))
    if k == 1:
        where = rng.choice(["../outside.bin", "/etc/passwd", "missing.bin", "n" * 300, "sub/../../x.bin"])

        def apply(project: Path, outside: Path) -> None:
            (outside / "outside.bin").write_bytes(bytes(256))
            (project / "model.onnx").write_bytes(base.onnx_bytes(external=where))
        return f"external data at {where[:20]}", apply
    model = onnx.load_from_string(base.onnx_bytes())
    g = model.graph
    if k == 2:
        g.output[0].name = "logits"
        g.node[-1].output[0] = "logits2"
        g.node[-2].output[0] = "logits2_"
    elif k == 3:
        g.input[0].name = "ids"
    elif k == 4:
        model.opset_import[0].version = rng.choice([99, 1, 0])
    elif k == 5:
        model.ir_version = rng.choice([99, 0, 2])
    elif k == 6:
        g.node[rng.randrange(len(g.node))].op_type = "NoSuchOp"
    elif k == 7:
        g.initializer[0].dims[0] = 2 ** 40
    else:
        del g.node[:]
    return f"graph variant {k}", _write_bytes("model.onnx", model.SerializeToString())


def onnx_case(rng: random.Random) -> Case:
    if rng.random() < 0.5:
        op, out = mutate_bytes(base.onnx_bytes(), rng)
        return Case(f"bytes {op}", "onnx", _write_bytes("model.onnx", out))
    label, apply = _onnx_variant(rng)
    return Case(label, "onnx", apply)


# ---- special files, enumerated ------------------------------------------------------------------

PATH_KEYS = [  # (source, config path, file name the key points at, label in the error)
    ("safetensors", ("tokenizer",), "tokenizer.json", "tokenizer"),
    ("safetensors", ("model", "weights"), "model.safetensors", "[model] weights"),
    ("pt", ("model", "weights"), "model.pt", "[model] weights"),
    ("onnx", ("model", "onnx"), "model.onnx", "[model] onnx"),
    ("safetensors", ("model", "factory"), "model.py", "[model] factory"),
    ("onnx", ("model", "hf"), "hf", "[model] hf"),
    ("onnx", ("evaluation", "file"), "eval.tsv", "[evaluation] file"),
    ("onnx", ("quantization", "calibration"), "calibration.txt", "[quantization] calibration"),
]


def special_cases() -> list[Case]:
    cases = []
    for source, path, name, label in PATH_KEYS:
        for kind in SPECIALS:
            def apply(project: Path, outside: Path, path=path, name=name, kind=kind, source=source) -> None:
                cfg = base.config(source)
                value = make_special(kind, project, outside, name)
                if path[-1] == "factory":
                    value = value + ":Tiny"
                if path[-1] == "hf":
                    cfg["model"] = {"hf": value}
                else:
                    table = cfg
                    for k in path[:-1]:
                        table = table[k]
                    table[path[-1]] = value
                (project / "edgepack.toml").write_text(base.dump_toml(cfg), encoding="utf-8")
            # Every path key, data files included, must stay inside the project: always refused.
            cases.append(Case(f"{label} -> {kind}", source, apply, expect_code=2, mentions=label, timeout=20))
    # Specials inside an hf folder, and edgepack.toml / tokenizer.json themselves.
    for kind in ("fifo", "dev_zero", "socket", "symlink_out", "symlink_loop"):
        def apply(project: Path, outside: Path, kind=kind) -> None:
            (project / "hf").mkdir()
            (project / "hf" / "config.json").write_text("{}")
            make_special(kind, project / "hf", outside, "model.safetensors")
            cfg = base.config("onnx")
            cfg["model"] = {"hf": "hf"}
            (project / "edgepack.toml").write_text(base.dump_toml(cfg), encoding="utf-8")
        cases.append(Case(f"hf folder holding a {kind}", "onnx", apply, expect_code=2, mentions="[model] hf", timeout=20))
    for kind in ("fifo", "dev_zero", "directory", "socket", "symlink_loop"):
        def apply(project: Path, outside: Path, kind=kind) -> None:
            make_special(kind, project, outside, "edgepack.toml")
        cases.append(Case(f"edgepack.toml is {kind}", "onnx", apply, expect_code=2, mentions="edgepack.toml", timeout=20))

    # An hf folder whose config.json is hostile: read by edgepack.hf before any model is built.
    hf_configs = {"deep nesting": '{"model_type": "bert", "x": ' + nested_text(100_000) + "}",
                  "5000-digit number": '{"model_type": "bert", "num_labels": ' + DIGITS_5000 + "}",
                  "an array": "[1, 2]", "garbage": b"\x00\xff{", "huge id2label id":
                  '{"model_type": "bert", "id2label": {"99999999999999999999": "a", "0": "b"}}',
                  "a 20 MiB file": None}
    for label, text in hf_configs.items():
        def apply(project: Path, _outside: Path, text=text) -> None:
            (project / "hf").mkdir()
            if text is None:
                sparse_file(project / "hf" / "config.json", 20 << 20)
            else:
                (project / "hf" / "config.json").write_bytes(text if isinstance(text, bytes) else text.encode())
            (project / "hf" / "model.safetensors").write_bytes(b"")
            (project / "hf" / "tokenizer.json").write_text(json.dumps(base.tokenizer_spec()))
            cfg = base.config("onnx")
            cfg["model"] = {"hf": "hf"}
            (project / "edgepack.toml").write_text(base.dump_toml(cfg), encoding="utf-8")
        cases.append(Case(f"hf config.json: {label}", "onnx", apply, timeout=20))

    def big_toml(project: Path, _outside: Path) -> None:
        sparse_file(project / "edgepack.toml", 2 << 20)

    def big_tokenizer(project: Path, _outside: Path) -> None:
        sparse_file(project / "tokenizer.json", 65 << 20)

    cases.append(Case("edgepack.toml of 2 MiB", "onnx", big_toml, expect_code=2, mentions="allowed"))
    cases.append(Case("tokenizer.json of 65 MiB", "onnx", big_tokenizer, expect_code=2, mentions="allowed"))
    return cases


GENERATORS = {"toml": toml_case, "tokenizer": tokenizer_case, "safetensors": safetensors_case, "pt": pt_case,
              "onnx": onnx_case}
