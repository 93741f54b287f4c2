"""Plain helpers shared by the browser tests: build a bundle, serve it, classify in its page, and the
hard inputs every page is held to. Fixtures are in conftest.py; Chromium is tests.browser_support."""

from __future__ import annotations

import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

# Hard inputs: emoji, right-to-left scripts, unknown words, punctuation only, mixed directions.
HARD_TEXTS = [
    "😀 great movie 👍🏽",
    "هذا فيلم رائع",
    "שלום great film",
    "zzz qqq unknownword",
    "?!",
    "the  END\tof\nthe story",
]


# The keys every runtime shares (edgepack.runtime.postprocess) and the JS-only extras allowed beside them.
JS_EXTRAS = {"index", "scores", "text", "ids", "tokens", "latencyMs", "inferenceMs", "tokenizeMs"}


def build_bundle(artifact: Path, out: Path, precision: str) -> Path:
    from edgepack.web.bundle import build_wasm_bundle

    return build_wasm_bundle(artifact, out, precision).directory


def edgepack_server(directory: Path, isolate: bool = True):
    """edgepack.web.serve in a thread; a context manager yielding the base URL."""
    from edgepack.web.serve import running

    return running(directory, isolate=isolate)


@contextmanager
def plain_server(directory: Path):
    """`python -m http.server`: a plain static server without COOP/COEP/CSP or compression."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"port (\d+)", line)
        assert match, f"http.server did not report its port: {line!r}"
        yield f"http://127.0.0.1:{match.group(1)}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def classify_in_page(page, texts: list[str]) -> list[dict]:
    """Run the page's own pipeline on texts; returns [{ids, probabilities, label}] (plain JSON)."""
    # A function (not a string) so Playwright calls it without eval(): the page's CSP forbids eval.
    return page.evaluate(
        """async (texts) => {
            const out = [];
            for (const t of texts) {
                const r = await globalThis.edgepackDemo.pipeline.classify(t);
                out.push({ids: Array.from(r.ids, Number), probabilities: r.scores.map((s) => s.probability), label: r.label});
            }
            return out;
        }""",
        texts,
    )
