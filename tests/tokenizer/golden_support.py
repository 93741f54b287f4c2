"""The tokenizer tests' data, for every file that reads it: the corpus and the golden files."""

from __future__ import annotations

import json
import pathlib

from tests.tokenizer import conformance

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
CORPUS = HERE / "corpus.jsonl"


def load_corpus() -> list[str]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="ascii").splitlines()]


def golden_names() -> list[str]:
    return conformance.golden_names(GOLDEN)


def load_golden(name: str):
    return conformance.parse_golden((GOLDEN / f"{name}.jsonl").read_text(encoding="ascii"))
