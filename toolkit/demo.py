"""The seed example's flow, on ONNX Runtime: one text, a batch of four, a throughput test."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edgepack.progress import QUIET, Progress

SEED_TEXT = "This movie was really great and amazing"
SEED_BATCH = [
    "This movie was really great and amazing",
    "The service was terrible and the food was cold",
    "The museum opens at 9 o'clock",
    "I would not recommend this phone",
]


def run_demo(project, precision: str | None = None, batch_size: int = 32, seconds: float = 2.0,
             threads: int | None = None, progress: Progress = QUIET) -> dict[str, Any]:
    from edgepack.build import build
    from edgepack.project import load_project
    from edgepack.runtime.pipeline import Pipeline

    project = load_project(project)
    build(project, target="onnx", progress=progress)
    pipe = Pipeline.load(Path(project.build_dir), precision=precision, threads=threads)
    single = pipe.predict([SEED_TEXT])[0]
    batch = pipe.predict(SEED_BATCH)
    texts = (SEED_BATCH * (batch_size // len(SEED_BATCH) + 1))[:batch_size]
    pipe.predict(texts)  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        pipe.predict(texts)
        done += len(texts)
    elapsed = time.perf_counter() - start
    return {
        "model": f"{project.name} {project.version}",
        "precision": pipe.precision,
        "self_test": pipe.self_test().as_dict(),
        "single": {"text": SEED_TEXT, **single},
        "batch": [{"text": t, **r} for t, r in zip(SEED_BATCH, batch)],
        "throughput": {"batch_size": batch_size, "samples": done, "seconds": round(elapsed, 3),
                       "samples_per_second": round(done / elapsed, 1),
                       "ms_per_sample": round(1000 * elapsed / max(done, 1), 4),
                       "end_to_end": "text -> tokenizer -> ONNX Runtime -> probabilities"},
    }
