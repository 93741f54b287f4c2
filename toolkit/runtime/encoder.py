"""Texts -> padded int64 arrays named like the model's inputs: the one batching rule of every runtime.

Batches are right-padded to their longest row, and to at least one position (an empty text becomes
one pad token with mask 0); web/src/pipeline.mjs applies the same rule. The tokenizer's own
``padding`` is switched off (per-batch padding gives identical answers with less work) after its
``pad_id`` has been read, and truncation is capped at the manifest's ``max_length``.

numpy is imported only where arrays are made, so Pyodide (edgepack.web.pyodide) reuses this module
with plain lists (``pad_rows``).
"""

from __future__ import annotations

from typing import Sequence

from edgepack.runtime.tokenizer import Tokenizer
from edgepack.runtime.tokenizer import batch_ids


def pad_id_of(tokenizer: Tokenizer) -> int:
    padding = tokenizer.padding or {}
    if "pad_id" in padding:
        return int(padding["pad_id"])
    for token in ("[PAD]", "<pad>", "<PAD>"):
        tid = tokenizer.token_to_id(token)
        if tid is not None:
            return tid
    return 0


_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


def _width(encodings: Sequence) -> int:
    return max([len(e.ids) for e in encodings] + [1])


def _append_rows(flat: list[int], encodings: Sequence, name: str, pad_id: int, width: int) -> None:
    """Append ``name``'s rows, each right-padded to ``width``, to ``flat``."""
    attr, fill = _FIELDS[name], (pad_id if name == "input_ids" else 0)
    for e in encodings:
        row = getattr(e, attr)
        flat.extend(row)
        if len(row) < width:
            flat.extend([fill] * (width - len(row)))


def pad_rows(encodings: Sequence, pad_id: int, names: Sequence[str]) -> tuple[dict[str, list[int]], list[int]]:
    """Flat, right-padded rows per input name and the [batch, width] dims (plain Python lists)."""
    width = _width(encodings)
    out: dict[str, list[int]] = {}
    for name in names:
        out[name] = flat = []
        _append_rows(flat, encodings, name, pad_id, width)
    return out, [len(encodings), width]


def pad_batch(encodings: Sequence, pad_id: int, names: Sequence[str]) -> dict:
    """Like ``pad_rows``, as int64 numpy arrays of shape [batch, width]."""
    import numpy as np

    width = _width(encodings)
    flat: list[int] = []
    for name in names:
        _append_rows(flat, encodings, name, pad_id, width)
    # One list -> array conversion for every input (it dominates small batches); each input is a
    # C-contiguous [batch, width] view of the block.
    block = np.array(flat, dtype=np.int64).reshape(len(names), len(encodings), width)
    return {name: block[k] for k, name in enumerate(names)}


class BatchEncoder:
    def __init__(self, tokenizer: Tokenizer, input_names: Sequence[str], max_length: int | None = None):
        trunc = tokenizer.truncation
        if max_length and (trunc is None or trunc.get("max_length", max_length) > max_length):
            tokenizer.enable_truncation(max_length=int(max_length))
        self.pad_id = pad_id_of(tokenizer)
        if tokenizer.padding is not None:
            tokenizer.no_padding()
        self.tokenizer = tokenizer
        self.input_names = list(input_names)
        self.batch_ids = batch_ids.BatchIds(tokenizer, self.pad_id, self.input_names)

    @classmethod
    def from_manifest(cls, manifest, input_names: Sequence[str] | None = None) -> "BatchEncoder":
        return cls(Tokenizer.from_file(manifest.tokenizer_path()), input_names or manifest.input_names,
                   manifest.model.get("max_length"))

    def __call__(self, texts: Sequence[str]) -> dict:
        texts = list(texts)
        # A batch of ASCII texts as one string (tokenizer/batch_ids.py): the same arrays, ~3x faster
        # at 32 texts; None for what it does not cover (and for 2 texts, where it does not pay).
        feeds = self.batch_ids.feeds(texts)
        if feeds is not None:
            return feeds
        # offsets=False: the tokenizer's ids-only fast path (same ids and masks, no offset bookkeeping)
        return pad_batch(self.tokenizer.encode_batch(texts, offsets=False), self.pad_id, self.input_names)

    def encode_one(self, text: str, pair: str | None = None):
        return self.tokenizer.encode(text, pair, offsets=False)

    def pad(self, encodings: Sequence) -> dict:
        return pad_batch(encodings, self.pad_id, self.input_names)
