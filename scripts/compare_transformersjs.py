"""edgepack's wasm int8 bundle vs transformers.js q8, same encoder, same Chromium, same run (issue 16 item 4).

    .venv/bin/python scripts/compare_transformersjs.py samples/minilm-embedder [--rounds 3] [--json out.json]

Not a test and not a project dependency; it needs the hf extra (torch + transformers, to export the
encoder the way transformers.js loads it), npm and registry access once, and Chromium.

1. edgepack: the project's int8 build (`edgepack quantize` first if it has none) and its wasm bundle
   (the one `edgepack bench --target wasm` uses: the shipped dist/<name>-wasm when it matches the
   build, else dist/bench/wasm-int8).
2. transformers.js, in a scratch directory (--scratch; default a temp dir, removed after): `npm
   install --ignore-scripts @huggingface/transformers@VERSION` there -- never into the bundle or
   web/ -- and the same Hugging Face folder exported as transformers.js expects it
   (onnx/model.onnx, output last_hidden_state; pooling and normalisation in JS) and quantized as
   its q8 file is: Optimum's dynamic avx512_vnni preset (int8 per-channel MatMul weights, no
   reduce_range; the file transformers.js ships for all-MiniLM-L6-v2, see design.md).
3. Chromium (edgepack.web.chromium): a fresh context per visit, rounds interleaved with the order
   rotated (edgepack/transformers.js x 1 thread on a plain server / N threads cross-origin
   isolated). A visit: navigation -> first embedding (cold start), then timed chunks of one text
   per call with the same loop (web/src/timing.mjs timedLoop), the bench's "full" visit budgets.
4. Transfer: what each page fetched (the timing harness excluded), as a static host with brotli
   sends it: edgepack's precompressed .br files (what `edgepack serve` sends); for transformers.js
   the same compressor (edgepack.web.compress) on each file it fetched. Raw bytes too.
5. Accuracy: cosine of each page's embeddings (one text at a time, as computed in Chromium) to the
   fp32 model run by native ONNX Runtime, on the same texts.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TRANSFORMERS_JS = "4.3.2"  # @huggingface/transformers; it pins its own onnxruntime-web
# Optimum's ORT_DEFAULT_OPS_DYNAMIC_QUANTIZATION (as scripts/measure_minilm.py).
OPTIMUM_OPS = ["MatMul", "Attention", "LSTM", "Gather", "Transpose", "EmbedLayerNormalization"]
TJS_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
PAGE_HTML = """<!doctype html><meta charset="utf-8"><title>transformers.js q8</title><link rel="icon" href="data:,">
<body data-state="loading"><p>transformers.js q8 (scripts/compare_transformersjs.py)</p><pre id="error"></pre><script type="module" src="./page.mjs"></script></body>
"""


# ---------------------------------------------------------------- the two pages
def edgepack_bundle(project_dir: Path, say) -> tuple[object, Path]:
    from edgepack.project import load_project
    from edgepack.runtime.manifest import load_manifest
    from edgepack.web.bench_bundles import bundles_for

    project = load_project(project_dir)
    build = project.root / "build"
    manifest = None
    with contextlib.suppress(Exception):
        manifest = load_manifest(build, verify=True)
    if manifest is None or "int8" not in manifest.precisions:
        from edgepack.quantize import quantize_project

        say("edgepack quantize (no int8 build yet)")
        quantize_project(project.root, wasm_timing="none")
        manifest = load_manifest(build, verify=True)
    if "int8" not in manifest.precisions:
        sys.exit(f"{build}: the quantize stage shipped no int8 model; nothing to compare")
    say("the int8 wasm bundle (reused when it matches the build)")
    bundle = bundles_for(project, build, manifest.data, precisions=("int8",))["int8"]
    return project, bundle


def scratch_transformers_js(project, scratch: Path, say) -> Path:
    """The transformers.js page: npm package, ORT files, the encoder as it expects it. Returns its root."""
    site = scratch / "site"
    npm = scratch / "npm"
    if not (npm / "node_modules" / "@huggingface" / "transformers" / "package.json").is_file():
        say(f"npm install @huggingface/transformers@{TRANSFORMERS_JS} into {npm} (--ignore-scripts)")
        npm.mkdir(parents=True, exist_ok=True)
        (npm / "package.json").write_text('{"private": true}\n')
        # --ignore-scripts: onnxruntime-node's postinstall downloads from the internet (design.md);
        # nothing of it is used in the browser anyway.
        subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error",
                        f"@huggingface/transformers@{TRANSFORMERS_JS}"], cwd=npm, check=True)
    if site.exists():
        shutil.rmtree(site)
    (site / "edgepack").mkdir(parents=True)
    tjs_dist = npm / "node_modules" / "@huggingface" / "transformers" / "dist"
    shutil.copytree(tjs_dist, site / "tjs")
    shutil.copytree(npm / "node_modules" / "onnxruntime-web" / "dist", site / "ort",
                    ignore=shutil.ignore_patterns("*.map"))
    for name in ("timing.mjs", "session.mjs"):
        shutil.copyfile(REPO / "web" / "src" / name, site / "edgepack" / name)
    shutil.copyfile(REPO / "scripts" / "compare_transformersjs.mjs", site / "page.mjs")
    (site / "index.html").write_text(PAGE_HTML, encoding="utf-8")

    model = site / "models" / "encoder"
    (model / "onnx").mkdir(parents=True)
    hf = project.root / project.section("model")["hf"]
    for name in TJS_FILES:
        if (hf / name).is_file():
            shutil.copyfile(hf / name, model / name)
    cache = scratch / "onnx-cache"
    if not (cache / "model_quantized.onnx").is_file():
        say("exporting the encoder for transformers.js (last_hidden_state) and quantizing it (Optimum preset)")
        cache.mkdir(parents=True, exist_ok=True)
        _export_last_hidden_state(hf, cache / "model.onnx")
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(cache / "model.onnx"), str(cache / "model_quantized.onnx"), per_channel=True,
                         reduce_range=False, weight_type=QuantType.QInt8, op_types_to_quantize=OPTIMUM_OPS)
    shutil.copyfile(cache / "model_quantized.onnx", model / "onnx" / "model_quantized.onnx")
    return site


def _export_last_hidden_state(hf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    class LastHiddenState(torch.nn.Module):  # keyword inputs: forward()'s positional order varies by version
        def __init__(self):
            super().__init__()
            self.m = AutoModel.from_pretrained(hf).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    model = LastHiddenState().eval()
    ids = torch.tensor([[2, 10, 11, 12, 3]], dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    args = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"last_hidden_state": {0: "batch", 1: "sequence"}}
    torch.onnx.export(model, args, str(out), input_names=names, output_names=["last_hidden_state"],
                      dynamic_axes=axes, opset_version=17, dynamo=False)


# ---------------------------------------------------------------- serving the transformers.js page
# Not edgepack.web.serve: that server sends the bundle's strict CSP, which is edgepack's page's
# contract; the third-party transformers.js page is served with only what it needs (MIME types,
# COOP/COEP for threads), so neither page is measured under the other's rules.
class _Handler(http.server.SimpleHTTPRequestHandler):
    isolate = False
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm"}

    def end_headers(self):
        if self.isolate:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass


def serving(directory: Path, isolate: bool):
    from edgepack.web.serve import in_background

    handler = type("H", (_Handler,), {"isolate": isolate, "directory": str(directory)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(directory)))
    return in_background(server)


# ---------------------------------------------------------------- measuring
def _brotli_bytes(path: Path, cache: dict) -> int:
    from edgepack.web.compress import brotli_bytes  # the compressor the bundles use

    if path not in cache:
        cache[path] = min(len(brotli_bytes(path.read_bytes())), path.stat().st_size)
    return cache[path]


def _per_call(chunks: list[dict]) -> float:
    return 1000.0 / statistics.median(c["calls"] * 1000.0 / c["ms"] for c in chunks if c["ms"] > 0)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def measure(project, bundle: Path, site: Path, texts: list[str], rounds: int, say) -> dict:
    from edgepack.runtime.pipeline import Pipeline
    from edgepack.web import chromium
    from edgepack.web.browser_bench import VISIT
    from edgepack.web.serve import running
    from edgepack.web.visit import TIMING_MODULE, call, open_demo

    plan = VISIT["full"]
    cold_text = texts[0]
    configs = [(impl, iso) for iso in (False, True) for impl in ("edgepack", "transformers.js")]
    acc = {c: {"per_call": [], "p50": [], "cold": [], "transfer": None, "raw": None, "info": None, "errors": []}
           for c in configs}
    embeddings = {}
    compressed: dict = {}
    with chromium.launch("transformers.js comparison") as browser:
        browser_version = chromium.version(browser)
        for r in range(rounds):
            for impl, isolate in configs[r % len(configs):] + configs[:r % len(configs)]:
                a = acc[(impl, isolate)]
                say(f"  round {r + 1}/{rounds}: {impl}, {'N threads (isolated)' if isolate else '1 thread'}")
                if impl == "edgepack":
                    with running(bundle, isolate=isolate) as url, open_demo(browser, url, cold_text) as (page, log):
                        got = call(page, "predictChunks", texts, plan)
                        a["cold"].append(log.marks["first_result"])
                        a["info"] = {**log.marks["info"], "isolated": log.marks["isolated"]}
                        if "edgepack" not in embeddings:
                            embeddings["edgepack"] = page.evaluate(
                                "async (t) => (await globalThis.edgepackDemo.pipeline.embed(t)).map((r) => Array.from(r.embedding))",
                                texts)
                    files = [u for u in log.requests if not urlsplit(u).path.endswith("/" + TIMING_MODULE)]
                    from edgepack.web.bench_bundles import transfer_bytes

                    a["transfer"] = transfer_bytes(bundle, files)[0]
                    rels = {urlsplit(u).path.lstrip("/") or "index.html" for u in files}
                    a["raw"] = sum((bundle / r_).stat().st_size for r_ in rels if (bundle / r_).is_file())
                else:
                    with serving(site, isolate) as url, chromium.open_page(
                            browser, f"{url}index.html#text={quote(cold_text)}",
                            wait_for="body[data-state=ready], body[data-state=error]") as (page, log):
                        if page.get_attribute("body", "data-state") == "error":
                            sys.exit(f"the transformers.js page failed: {page.inner_text('#error')}")
                        marks = page.evaluate("() => globalThis.tjsPage.marks()")
                        got = page.evaluate("([t, o]) => globalThis.tjsPage.chunks(t, o)", [texts, plan])
                        a["cold"].append(marks["first_result"])
                        a["info"] = marks
                        if "transformers.js" not in embeddings:
                            embeddings["transformers.js"] = page.evaluate("(t) => globalThis.tjsPage.embeddings(t)", texts)
                    rels = {urlsplit(u).path.lstrip("/") for u in log.requests}
                    rels = [r_ for r_ in rels if (site / r_).is_file() and not r_.startswith("edgepack/")]
                    a["transfer"] = sum(_brotli_bytes(site / r_, compressed) for r_ in rels)
                    a["raw"] = sum((site / r_).stat().st_size for r_ in rels)
                    a["files"] = sorted(rels)
                a["errors"].extend(log.errors)
                a["per_call"].append(_per_call(got["chunks"]))
                a["p50"].append(statistics.median(got["e2e"]))

    ref = np.asarray(Pipeline.load(project.root / "build", precision="fp32")(texts)["embeddings"], dtype=np.float64)
    accuracy = {}
    for impl, vecs in embeddings.items():
        c = _cos(ref, np.asarray(vecs, dtype=np.float64))
        accuracy[impl] = {"min_cosine_vs_fp32": round(float(c.min()), 5), "mean_cosine_vs_fp32": round(float(c.mean()), 6)}
    rows = {}
    for (impl, isolate), a in acc.items():
        key = f"{impl} {'nt' if isolate else '1t'}"
        rows[key] = {"p50_ms": round(statistics.median(a["p50"]), 3), "per_call_ms": round(statistics.median(a["per_call"]), 3),
                     "cold_start_ms": round(statistics.median(a["cold"]), 1), "transfer_bytes_brotli": a["transfer"],
                     "raw_bytes": a["raw"], "threads": a["info"].get("threads"), "page_errors": a["errors"][:5]}
    # p50: robust to the stalls of a busy machine (the bench's goal uses it too); per call from whole
    # chunks: exact where the page's timer is coarse (100 µs outside isolation), but takes in every stall.
    ratios = {f"{mode} {m}": round(rows[f"edgepack {mode}"][m] / rows[f"transformers.js {mode}"][m], 3)
              for mode in ("1t", "nt") for m in ("p50_ms", "per_call_ms")}
    return {"browser": browser_version, "texts": len(texts), "rounds": rounds, "rows": rows,
            "edgepack_vs_transformersjs": ratios, "accuracy": accuracy,
            "transformers_js": {"version": TRANSFORMERS_JS, "ort_web": acc[("transformers.js", False)]["info"].get("ort"),
                                "files": acc[("transformers.js", False)].get("files")},
            "edgepack_bundle": str(bundle)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path, help="a feature-extraction model project with an HF folder ([model] hf)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--texts", type=int, default=32, help="texts timed and compared (from the project's evaluation file)")
    ap.add_argument("--scratch", type=Path, default=None, help="keep the npm install and the exported model here")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    project, bundle = edgepack_bundle(args.project, say)
    if project.task != "feature-extraction" or not project.section("model").get("hf"):
        sys.exit(f"{project.path}: needs task = feature-extraction and [model] hf (a Hugging Face folder)")
    from edgepack.project import read_labelled_file

    texts = list(dict.fromkeys(project.example_texts))
    if project.section("evaluation").get("file"):
        path = project.root / project.section("evaluation")["file"]
        texts += [t for t, _ in read_labelled_file(path, str(path))]
    texts = [t for t in dict.fromkeys(texts) if t.strip()][: args.texts]
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="edgepack-tjs-"))
    try:
        site = scratch_transformers_js(project, scratch, say)
        numbers = measure(project, bundle, site, texts, args.rounds, say)
    finally:
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)
    numbers["seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(numbers, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
