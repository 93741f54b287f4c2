"""The tokenizer tests' data, for every file that reads it: the corpus and the golden files."""

from __future__ import annotations

import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
CORPUS = HERE / "corpus.jsonl"


def load_corpus() -> list[str]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="ascii").splitlines()]


def golden_names() -> list[str]:
    return sorted(p.name[: -len(".jsonl")] for p in GOLDEN.glob("*.jsonl"))


def load_golden(name: str):
    lines = (GOLDEN / f"{name}.jsonl").read_text(encoding="ascii").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
