"""The texts the gates run on, tokenized once into single-text feeds.

Evaluation set: the project's ``[evaluation] file`` (held-out texts, with labels when present);
otherwise its examples plus deterministic generated texts (random in-vocabulary words, varied
lengths). Each text is fed alone, as the runtimes serve it: dynamic INT8 quantizes activations
per tensor, so a padded batch would be judged on numbers no deployment produces.
Calibration texts (static mode): ``--calibration FILE`` / ``[quantization] calibration`` (one text
per line, UTF-8), else the examples and up to 256 evaluation texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgepack.errors import ProjectError, QuantizationError
from edgepack.project import Project
from edgepack.runtime.encoder import BatchEncoder
from edgepack.runtime.tokenizer import Tokenizer

GENERATED_TEXTS = 128
CALIBRATION_LIMIT = 256


@dataclass
class EvalSet:
    source: str
    texts: list[str]
    feeds: list[dict[str, np.ndarray]]
    labels: list[int] | None = None  # index into the project's labels, when every row has one
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def project_encoder(project: Project, names: list[str]) -> BatchEncoder:
    """The runtimes' batching rule (truncation cap, pad id, per-batch padding) for this project."""
    return BatchEncoder(Tokenizer.from_file(project.tokenizer_path), names, project.max_length)


def _feeds(encoder: BatchEncoder, texts: list[str]) -> list[dict[str, np.ndarray]]:
    return [encoder([t]) for t in texts]


def _generated(encoder: BatchEncoder, count: int, max_words: int, seed: int = 0) -> list[str]:
    vocab = sorted(w for w in encoder.tokenizer.get_vocab() if w.isalpha() and not w.startswith("["))
    if not vocab:
        return []
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(vocab, size=int(rng.integers(1, max_words + 1)))) for _ in range(count)]


def evaluation_set(project: Project, names: list[str]) -> EvalSet:
    encoder = project_encoder(project, names)
    rows = project.evaluation_rows()
    if rows:
        texts = [t for t, _ in rows]
        labels = None
        if project.task == "text-classification" and all(l is not None for _, l in rows):
            known = {name: i for i, name in enumerate(project.labels)}
            unknown = sorted({l for _, l in rows if l not in known})
            if unknown:
                raise ProjectError(f"{project.path}: [evaluation] file has labels {unknown[:5]} that are not in "
                                   f"labels = {project.labels}; fix the file or the labels")
            labels = [known[l] for _, l in rows]
        source = f"[evaluation] file {project.section('evaluation')['file']} ({len(texts)} texts)"
    else:
        texts = project.example_texts + _generated(encoder, GENERATED_TEXTS, max(4, project.max_length // 2))
        labels = None
        source = f"examples + {GENERATED_TEXTS} generated texts (no [evaluation] file)"
    if not texts:
        raise QuantizationError(f"{project.path}: no texts to evaluate on; add [evaluation] file or [examples] texts")
    return EvalSet(source=source, texts=texts, feeds=_feeds(encoder, texts), labels=labels, names=names)


def read_calibration_file(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise QuantizationError(f"{path}: calibration file not found") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QuantizationError(f"{path}: calibration file is not UTF-8 ({exc.reason} at byte {exc.start}); "
                                "save it as UTF-8, one text per line") from None
    texts = [line for line in text.splitlines() if line.strip()]
    if not texts:
        raise QuantizationError(f"{path}: calibration file is empty; put one representative text per line")
    return texts


def calibration_feeds(project: Project, names: list[str], evalset: EvalSet,
                      file: str | Path | None = None) -> tuple[str, list[dict[str, np.ndarray]]]:
    rel = file or project.section("quantization").get("calibration")
    if rel:
        path = Path(file) if file else project.file(rel)
        texts = read_calibration_file(path)
        return f"{path} ({len(texts)} texts)", _feeds(project_encoder(project, names), texts)
    texts = list(dict.fromkeys(project.example_texts + evalset.texts[:CALIBRATION_LIMIT]))
    return (f"examples + first {min(len(evalset), CALIBRATION_LIMIT)} evaluation texts ({len(texts)} texts)",
            _feeds(project_encoder(project, names), texts))
