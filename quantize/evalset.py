"""The texts the gates run on, tokenized once into single-text feeds, split in two.

Evaluation set: the project's ``[evaluation] file`` (held-out texts, with labels when present).
Without one the gate is *weak* (recorded as ``gate.weak`` with the reason, and said on stderr): the
set is then the examples plus a documented generator (``_generated``: seeded, two kinds of text --
(a) the examples' own words re-combined into new sentences of 3-24 words, so the texts look like
the domain, and (b) random in-vocabulary words of varied length, so rare tokens and long inputs
are covered). Generated texts are no substitute for real held-out data: add ``[evaluation] file``.

The split (``split``): a seeded shuffle divides the set into a *selection* part (what every
quantization choice is made on: per-channel or not, the sensitivity ranking, the recovery ladder,
static calibration) and a disjoint *held-out* part (what the gate accepts on and what the manifest
reports). A choice tuned on the same texts it is judged on is judged too kindly (issue 16: 0.986 on
texts the gate never saw, under the 0.99 it claimed).

Each text is fed alone, as the runtimes serve it: dynamic INT8 quantizes activations per tensor,
so a padded batch would be judged on numbers no deployment produces.
Calibration texts (static mode): ``--calibration FILE`` / ``[quantization] calibration`` (one text
per line, UTF-8), else the examples and up to 256 *selection* texts (never held-out ones).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgepack.errors import ProjectError, QuantizationError
from edgepack.project import Project
from edgepack.runtime.encoder import BatchEncoder
from edgepack.runtime.tokenizer import Tokenizer

GENERATED_TEXTS = 128
CALIBRATION_LIMIT = 256
SPLIT_SEED = 16
SELECTION_FRACTION = 0.3
SELECTION_LIMIT = 256  # selection texts are run once per candidate: cap the cost on big files
MIN_HELDOUT = 8


@dataclass
class EvalSet:
    source: str
    texts: list[str]
    feeds: list[dict[str, np.ndarray]]
    labels: list[int] | None = None  # index into the project's labels, when every row has one
    names: list[str] = field(default_factory=list)
    weak: str | None = None  # why the gate is weak (no [evaluation] file), None when it is not
    pad_id: int = 0  # the runtimes' input_ids padding (gate.padded_batches serves texts as they do)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int], part: str) -> "EvalSet":
        return EvalSet(source=f"{self.source}, {part} split ({len(indices)} texts)",
                       texts=[self.texts[i] for i in indices], feeds=[self.feeds[i] for i in indices],
                       labels=None if self.labels is None else [self.labels[i] for i in indices],
                       names=self.names, weak=self.weak, pad_id=self.pad_id)


@dataclass
class Split:
    """Disjoint selection and held-out parts of one evaluation set, and how they were drawn."""
    selection: EvalSet
    heldout: EvalSet
    record: dict


def split(evalset: EvalSet, seed: int = SPLIT_SEED, fraction: float = SELECTION_FRACTION,
          limit: int = SELECTION_LIMIT) -> Split:
    """Seeded shuffle -> selection (``fraction`` of the texts, at most ``limit``) + held-out (the rest).

    Duplicate texts go to one side only, so "disjoint" holds for texts, not just row numbers."""
    order = list(dict.fromkeys(evalset.texts))  # distinct texts, first occurrence order
    rng = np.random.default_rng(seed)
    rng.shuffle(order)
    n = len(order)
    if n < 2:
        raise QuantizationError(f"{evalset.source}: {n} distinct text(s); the gate needs at least 2 to hold some "
                                "out. Add texts to the [evaluation] file (or [examples]).")
    take = max(1, min(limit, int(round(n * fraction)), n - min(MIN_HELDOUT, n // 2)))
    chosen = set(order[:take])
    sel = [i for i, t in enumerate(evalset.texts) if t in chosen]
    held = [i for i, t in enumerate(evalset.texts) if t not in chosen]
    digest = hashlib.sha256("\n".join(evalset.texts[i] for i in held).encode()).hexdigest()[:16]
    record = {"method": "seeded shuffle of distinct texts", "seed": seed, "selection_fraction": fraction,
              "selection_limit": limit, "selection_texts": len(sel), "heldout_texts": len(held),
              "heldout_sha256_16": digest, "disjoint": True}
    return Split(evalset.subset(sel, "selection"), evalset.subset(held, "held-out"), record)


def project_encoder(project: Project, names: list[str]) -> BatchEncoder:
    """The runtimes' batching rule (truncation cap, pad id, per-batch padding) for this project."""
    return BatchEncoder(Tokenizer.from_file(project.tokenizer_path), names, project.max_length)


def _feeds(encoder: BatchEncoder, texts: list[str]) -> list[dict[str, np.ndarray]]:
    return [encoder([t]) for t in texts]


def _generated(encoder: BatchEncoder, count: int, max_words: int, examples: list[str] = (), seed: int = 0) -> list[str]:
    """Half example-word recombinations (3-24 words), half random in-vocabulary words (1..max_words)."""
    vocab = sorted(w for w in encoder.tokenizer.get_vocab() if w.isalpha() and not w.startswith("["))
    words = [w for text in examples for w in text.split()]
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for i in range(count):
        if words and (i % 2 == 0 or not vocab):
            out.append(" ".join(rng.choice(words, size=int(rng.integers(3, 25)))))
        elif vocab:
            out.append(" ".join(rng.choice(vocab, size=int(rng.integers(1, max_words + 1)))))
    return list(dict.fromkeys(t for t in out if t not in set(examples)))


def evaluation_set(project: Project, names: list[str]) -> EvalSet:
    encoder = project_encoder(project, names)
    rows = project.evaluation_rows()
    if rows:
        texts = [t for t, _ in rows]
        labels = None
        if project.task == "text-classification" and all(label is not None for _, label in rows):
            known = {name: i for i, name in enumerate(project.labels)}
            unknown = sorted({label for _, label in rows if label not in known})
            if unknown:
                raise ProjectError(f"{project.path}: [evaluation] file has labels {unknown[:5]} that are not in "
                                   f"labels = {project.labels}; fix the file or the labels")
            labels = [known[label] for _, label in rows]
        source = f"[evaluation] file {project.section('evaluation')['file']} ({len(texts)} texts)"
    else:
        generated = _generated(encoder, GENERATED_TEXTS, max(4, project.max_length // 2), project.example_texts)
        texts = project.example_texts + generated
        labels = None
        source = f"examples + {len(generated)} generated texts (no [evaluation] file)"
        where = (f"{project.root} is a bare Hugging Face folder (no edgepack.toml), so it has no [evaluation] file"
                 if getattr(project, "inferred", None) is not None else f"{project.path} has no [evaluation] file")
        how = ("run `edgepack init` on the folder and add [evaluation] file = \"...\" to the edgepack.toml it writes"
               if getattr(project, "inferred", None) is not None else "add [evaluation] file = \"...\"")
        weak = (f"{where}: the gate judges INT8 on the examples and generated texts (example words re-combined, "
                f"random vocabulary words), not on real held-out data; {how} (one text per line, or "
                "text<TAB>label) for a gate that means something")
    if not texts:
        raise QuantizationError(f"{project.path}: no texts to evaluate on; add [evaluation] file or [examples] texts")
    return EvalSet(source=source, texts=texts, feeds=_feeds(encoder, texts), labels=labels, names=names,
                   weak=None if rows else weak, pad_id=encoder.pad_id)


def read_calibration_file(path: Path) -> list[str]:
    from edgepack.runtime import files

    if not path.exists() and not path.is_symlink():
        raise QuantizationError(f"{path}: calibration file not found")
    # bounded, never blocks on a FIFO or reads /dev/zero forever (--calibration skips the project checks)
    text = files.read_text(path, "calibration file", files.TEXT_LIMIT, QuantizationError)
    texts = [line for line in text.splitlines() if line.strip()]
    if not texts:
        raise QuantizationError(f"{path}: calibration file is empty; put one representative text per line")
    return texts


def calibration_feeds(project: Project, names: list[str], evalset: EvalSet,
                      file: str | Path | None = None) -> tuple[str, list[dict[str, np.ndarray]]]:
    """Calibration texts; ``evalset`` must be the selection split (held-out texts never calibrate)."""
    rel = file or project.section("quantization").get("calibration")
    if rel:
        path = Path(file) if file else project.file(rel)
        texts = read_calibration_file(path)
        return f"{path} ({len(texts)} texts)", _feeds(project_encoder(project, names), texts)
    texts = list(dict.fromkeys(project.example_texts + evalset.texts[:CALIBRATION_LIMIT]))
    return (f"examples + first {min(len(evalset), CALIBRATION_LIMIT)} selection texts ({len(texts)} texts)",
            _feeds(project_encoder(project, names), texts))
