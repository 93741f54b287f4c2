"""Text in, model outputs out: tokenizer + ONNX session + post-processing, as every target runs it.

``Pipeline`` is what the Pi service, ``edgepack demo`` and the benchmarks use; the JS runtime
(web/src/pipeline.mjs) mirrors it. The batching rule lives in edgepack.runtime.encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from edgepack.errors import ArtifactError
from edgepack.runtime import selftest
from edgepack.runtime.manifest import Manifest, load_manifest
from edgepack.runtime.postprocess import (TextInputError, check_golden_probabilities, check_outputs,  # noqa: F401
                                          embedding_results, label_results, text_batch)
from edgepack.runtime.encoder import BatchEncoder, pad_batch, pad_id_of  # noqa: F401  (re-exported)
from edgepack.runtime.selftest import SelfTestReport  # noqa: F401  (re-exported)
from edgepack.runtime.session import create_session, runner


# Measured on the sample LSTM (2-core x86, ORT 1.31): one intra-op thread beat two at batch 1, 8
# and 32 (90 vs 158 µs, 207 vs 313 µs, 539 vs 1025 µs) -- thread hand-off costs more than a small
# recurrent model's work. Larger models (BERT-class) gain from ORT's default of one thread per core.
SMALL_MODEL_BYTES = 4 << 20


def default_threads(model_path: Path) -> int | None:
    """1 for small models, else None (ORT's default)."""
    return 1 if Path(model_path).stat().st_size <= SMALL_MODEL_BYTES else None


EMPTY_BATCH = "an empty batch (0 texts): pass at least one text; predict([]) returns []"

class Pipeline:
    """Text in, results out, for one built artifact (a build directory, bundle or package).

    ``predict("text")`` -> one result dict, ``predict([...])`` -> a list (see ``predict`` for the
    shape, shared with the browser and the Pi service); ``pipe(texts)`` -> the raw output arrays by
    output name. Loading refuses (ArtifactError) a model whose outputs cannot answer the manifest's
    task: no ``probabilities`` output for text-classification (logits are not probabilities), no
    ``embeddings`` for feature-extraction, or a width other than the number of labels.
    """

    def __init__(self, manifest: Manifest, precision: str | None = None, provider: str = "cpu",
                 threads: int | None = None):
        self.manifest = manifest
        self.precision = precision or manifest.default_precision
        model_path = manifest.model_path(self.precision)
        self.threads = threads or default_threads(model_path)
        self.session = create_session(model_path, provider=provider, threads=self.threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._infer = runner(self.session, self.output_names)
        # A model whose outputs do not fit the task (logits instead of probabilities, a width other
        # than the labels') would give wrong answers quietly: refuse it here, naming what it has.
        shapes = {o.name: o.shape for o in self.session.get_outputs()}
        self.result_output = check_outputs(manifest.task, shapes, manifest.labels, str(model_path))
        if manifest.task == "text-classification":
            check_golden_probabilities(manifest.golden, self.result_output, manifest._where(), manifest.labels)
        self.encoder = BatchEncoder.from_manifest(manifest, self.input_names)
        self.tokenizer = self.encoder.tokenizer
        self.pad_id = self.encoder.pad_id

    @classmethod
    def load(cls, artifact: str | Path, precision: str | None = None, provider: str = "cpu",
             threads: int | None = None, verify: bool = True) -> "Pipeline":
        """Load a built artifact; ``verify`` checks every file against the manifest's sha256 first."""
        return cls(load_manifest(artifact, verify=verify), precision=precision, provider=provider, threads=threads)

    @property
    def task(self) -> str:
        return self.manifest.task

    def encode(self, texts: str | Sequence[str]) -> dict[str, np.ndarray]:
        """Padded int64 feeds [batch, sequence] by input name; a str is a batch of one."""
        items, _ = text_batch(texts)
        return self.encoder(items)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if any(np.asarray(v).shape[:1] == (0,) for v in feeds.values()):
            # ONNX Runtime aborts the whole process on a zero-row batch of some int8 graphs
            # (seen: "terminate called without an active exception" on the sample LSTM).
            raise TextInputError(EMPTY_BATCH)
        return self._run(feeds)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # For feeds known to hold >= 1 row (predict's): run()'s check costs ~8 us, ~10% of a batch-1 LSTM call.
        return dict(zip(self.output_names, self._infer(feeds)))

    def __call__(self, texts: str | Sequence[str]) -> dict[str, np.ndarray]:
        """The raw model outputs: {output name: array [batch, ...]}, one row per text, in order.

        A str is a batch of one (row 0); a list or tuple is a batch (items: str or (text, pair)).
        Anything else raises TextInputError.
        """
        items, _ = text_batch(texts)
        if not items:
            raise TextInputError(EMPTY_BATCH)
        return self._run(self.encoder(items))

    def predict(self, texts: str | Sequence[str]) -> dict | list[dict]:
        """Results per text, the same shape in every edgepack runtime (Python, browser, Pi service).

        ``predict("one text")`` returns one result, exactly ``predict(["one text"])[0]``; a list or
        tuple returns a list (``[]`` for ``[]``). Items may be (text, pair) tuples. bytes, None, or a
        list holding anything else raise TextInputError (a TypeError) naming the argument.

        A result is ``{"label", "score", "probabilities": {label: p}}`` for text-classification
        (probabilities in label order) and ``{"embedding": [floats]}`` for feature-extraction.
        """
        items, single = text_batch(texts)
        if not items:
            return []
        rows = self._run(self.encoder(items))[self.result_output]  # items is not empty
        if self.task == "text-classification":
            results = label_results(rows, self.manifest.labels)
        else:
            results = embedding_results(rows)
        return results[0] if single else results

    def self_test(self) -> SelfTestReport:
        """Check tokenizer and model against the manifest's golden vectors (edgepack.runtime.selftest)."""
        report, cases = selftest.start(self.manifest, self.precision, self.tokenizer)
        for case in cases:
            got = self.run(self.encoder.pad([case.encoding]))
            selftest.compare(report, case, {name: rows[0] for name, rows in got.items()})
        return report

    def require_self_test(self) -> SelfTestReport:
        report = self.self_test()
        if not report.ok:
            raise ArtifactError(f"{self.manifest.root}: self-test failed: " + "; ".join(report.failures))
        return report
