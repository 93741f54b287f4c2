"""edgepack from Python in the browser: this file runs inside Pyodide, and the page shows it.

Tokenization and the manifest are edgepack's own Python runtime (the wheel in wheels/, the same code
that runs on the build machine and on a Raspberry Pi). The model runs in onnxruntime-web, reached
through Pyodide's JS bridge: ``edgepack_js`` is a JS module the page registers (its ORT session and
its sha256-checked fetch). Everything comes from the page's own origin.

    pipe = await BrowserPipeline.load()
    await pipe.predict("This movie was really great")     # {"label", "score", "probabilities"}
    await pipe.predict(["great", "awful"])                 # a list of those

Results have edgepack's one shape (edgepack.runtime.postprocess), as Pipeline.predict and the JS pipeline.
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import edgepack_js  # registered by app.mjs: OrtSession, fetchVerified, baseUrl
import js
from pyodide.ffi import to_js

from edgepack.errors import ArtifactError
from edgepack.runtime import selftest
from edgepack.runtime.artifacts import MANIFEST_NAME
from edgepack.runtime.manifest import Manifest
from edgepack.runtime.encoder import BatchEncoder, pad_rows
from edgepack.runtime.postprocess import (check_golden_probabilities, check_outputs, embedding_results,
                                          label_results, text_batch)
from edgepack.runtime.tokenizer import Tokenizer

# Where the artifact's small files live in Pyodide's in-memory file system.
ARTIFACT_DIR = Path("/artifact")


def _js_object(value):
    return to_js(value, dict_converter=js.Object.fromEntries)


async def _fetch_verified(manifest: Manifest, rel: str):
    """An ArrayBuffer (JsProxy) of ``rel``, refused unless its sha256 matches the manifest."""
    meta = manifest.data.get("files", {}).get(rel)
    if meta is None:
        raise ArtifactError(f"{MANIFEST_NAME}: {rel} is not listed under 'files'; rebuild the bundle")
    return await edgepack_js.fetchVerified(edgepack_js.baseUrl, rel, _js_object(meta))


def _int64(values: list[int]):
    """A JS BigInt64Array from Python ints, via one bytes copy (no per-element BigInt calls)."""
    raw = to_js(array("q", values).tobytes())  # Uint8Array, byteOffset 0
    return js.BigInt64Array.new(raw.buffer)


class BrowserPipeline:
    """Text in, model outputs out -- the browser twin of edgepack.runtime.pipeline.Pipeline."""

    def __init__(self, manifest: Manifest, tokenizer: Tokenizer, session):
        self.manifest = manifest
        self.precision = manifest.default_precision
        self.tokenizer = tokenizer
        self.session = session
        self.input_names = list(session.inputNames)
        self.encoder = BatchEncoder(tokenizer, self.input_names, manifest.model.get("max_length"))
        self.pad_id = self.encoder.pad_id
        self.output_names = list(session.outputNames)
        # The same refusal as Pipeline: outputs that cannot answer the task never reach a green self-test.
        declared = {o["name"]: o.get("shape") for o in manifest.data.get("outputs", [])}
        shapes = {name: declared.get(name) for name in self.output_names}
        where = manifest.precisions[self.precision]["file"]
        self.result_output = check_outputs(manifest.task, shapes, manifest.labels, where)
        if manifest.task == "text-classification":
            check_golden_probabilities(manifest.golden, self.result_output, MANIFEST_NAME, manifest.labels)

    @classmethod
    async def load(cls, manifest_text: str | None = None):
        """Fetch manifest, tokenizer and model from the page's origin; start an ORT session."""
        if manifest_text is None:
            response = await js.fetch(f"{edgepack_js.baseUrl}{MANIFEST_NAME}", _js_object({"cache": "no-cache"}))
            manifest_text = await response.text()
        ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
        (ARTIFACT_DIR / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")
        manifest = Manifest(json.loads(manifest_text), root=ARTIFACT_DIR)
        tok_file = manifest.data["tokenizer"]["file"]
        model_file = manifest.precisions[manifest.default_precision]["file"]
        tokenizer_bytes = await _fetch_verified(manifest, tok_file)
        manifest.tokenizer_path().write_bytes(tokenizer_bytes.to_bytes())
        model_bytes = await _fetch_verified(manifest, model_file)  # stays in JS: ORT reads it there
        session = await edgepack_js.OrtSession.create(model_bytes)
        return cls(manifest, Tokenizer.from_file(manifest.tokenizer_path()), session)

    @property
    def info(self) -> dict:
        return self.session.info.to_py()

    def feeds(self, encodings: list) -> dict:
        """Feeds for onnxruntime-web: rows right-padded to the longest, at least one position."""
        rows, dims = pad_rows(encodings, self.pad_id, self.input_names)
        return {name: _js_object({"data": _int64(rows[name]), "dims": dims}) for name in self.input_names}

    async def run(self, texts, encodings: list | None = None) -> dict[str, list[list[float]]]:
        """{output name: one list of floats per text}; a str is a batch of one."""
        if encodings is None:
            items, _ = text_batch(texts)
            encodings = self.tokenizer.encode_batch(items, offsets=False)
        results = await self.session.run(_js_object(self.feeds(encodings)))
        out = {}
        for name in self.output_names:
            tensor = js.Reflect.get(results, name)
            values = array("f", tensor.data.to_bytes()).tolist()  # float32 -> exact Python floats
            n, width = int(tensor.dims[0]), len(values) // max(1, int(tensor.dims[0]))
            out[name] = [values[i * width:(i + 1) * width] for i in range(n)]
        return out

    async def predict(self, texts, encodings: list | None = None):
        """Like Pipeline.predict: a str -> one result, a list -> a list of results."""
        items, single = text_batch(texts)
        if not items:
            return []
        rows = (await self.run(items, encodings))[self.result_output]
        if self.manifest.task == "text-classification":
            results = label_results(rows, self.manifest.labels)
        else:
            results = embedding_results(rows)
        return results[0] if single else results

    async def predict_json(self, texts_json: str) -> str:
        """For JS callers: JSON text(s) in, JSON result(s) out (floats round-trip exactly), plus input_ids."""
        texts = json.loads(texts_json)
        items, single = text_batch(texts)
        encodings = self.tokenizer.encode_batch(items, offsets=False)
        results = await self.predict(items, encodings)
        for r, e in zip(results, encodings):
            r["input_ids"] = list(e.ids)
        return json.dumps(results[0] if single else results)

    async def self_test(self) -> dict:
        """Tokenizer and model against the manifest's golden vectors: Pipeline.self_test's rule (edgepack.runtime.selftest)."""
        report, cases = selftest.start(self.manifest, self.precision, self.tokenizer)
        for case in cases:
            got = await self.run([], [case.encoding])
            selftest.compare(report, case, {name: rows[0] for name, rows in got.items()})
        return report.as_dict()
