"""The browser, measured: ``edgepack bench --target wasm`` and the wasm speed gate.

Both drive headless Chromium (Debian's /usr/bin/chromium through Playwright; never a downloaded
browser) against a bundle served by :mod:`edgepack.web.serve` on 127.0.0.1, so the numbers are
those of the page a user opens.

* :func:`bench_rows` is the row provider of ``edgepack bench --target wasm``
  (``edgepack.bench.backends.EXTERNAL_PROVIDERS``). One row per (precision, thread mode): the fp32
  and int8 bundles, each with 1 thread (plain server: not cross-origin isolated, as on any static
  host) and N threads (``edgepack serve``: COOP/COEP). Every visit is a fresh browser context, so
  each gives one cold start (navigation -> first result, from the page's own performance marks);
  native ONNX Runtime runs the same texts in this process between visits (interleaved), and every
  row carries its ratio to native and the issue's goals (reported, never gated).
* :func:`measure_precisions` / :func:`gate_measurements` give the wasm speed gate its rounds
  (design.md: an int8 LSTM ran slower than fp32 in onnxruntime-web): fp32 and int8 timed model-only
  in one page, interleaved round by round, until the rule in edgepack.quantize.decision decides.
  `edgepack quantize` runs it once per inputs and records the decision; builds only read it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

from edgepack.errors import TargetError
from edgepack.web.serve import running

CHROMIUM = Path(os.environ.get("EDGEPACK_CHROMIUM", "/usr/bin/chromium"))
# Headless, offline, no background traffic; Playwright gives each launch a fresh --user-data-dir.
CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
LOAD_TIMEOUT_MS = 90_000  # 2 slow CI cores; a timeout is an error, never a timing assertion

# The goals for the browser (reported, not gated).
GOALS = (
    ("latency_vs_native", "per-sentence latency ≤ 2.5× native ONNX Runtime (same run)", "<=", 2.5),
    ("transfer", "bundle transfer size (brotli) ≤ 4.5 MB", "<=", 4.5e6),
    ("cold_start", "cold start (navigation → first result) ≤ 1 s on localhost", "<=", 1000.0),
)
# Per visit: a warm-up, then timed chunks (the chunk rate is exact even where the page's timer is
# coarse: 100 µs outside cross-origin isolation), with the budgets below.
VISIT = {
    "quick": {"warmup_ms": 500, "chunks": 4, "chunk_ms": 60, "min_calls": 3, "max_calls": 400, "rounds": 1},
    "full": {"warmup_ms": 3000, "chunks": 10, "chunk_ms": 200, "min_calls": 10, "max_calls": 5000, "rounds": 3},
}
# V8 runs new wasm code in its baseline tier and optimizes hot functions later (dynamic tiering),
# so a page's first hundreds of calls are slower: time-based warm-up before anything is timed.
GATE = {"round_ms": 30, "warmup_ms": 1500}


# ---------------------------------------------------------------- browser and server
def chromium_available() -> str | None:
    """None when Chromium + Playwright can run here, else why not (a sentence a user can act on)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install playwright; no browser download needed)"
    return None


@contextmanager
def chromium():
    """One headless Chromium for a benchmark or a gate; raises TargetError when none can run."""
    why = chromium_available()
    if why:
        raise TargetError(f"wasm benchmark: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS), headless=True)
        try:
            yield browser
        finally:
            browser.close()


class PageError(TargetError):
    pass


@contextmanager
def open_demo(browser, url: str, text: str | None = None):
    """A fresh context on the demo page; yields (page, visit) once the first result (or ready) is in.

    ``visit``: cold-start marks (ms since navigation start), every URL the page and its workers
    fetched, and the console errors. A page that shows an error raises PageError.
    """
    context = browser.new_context()
    page = context.new_page()
    visit = {"requests": [], "errors": []}
    context.on("request", lambda r: visit["requests"].append(r))
    page.on("console", lambda m: visit["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit["errors"].append(str(e)))
    try:
        page.goto(url + "index.html" + (f"#text={quote(text)}" if text else ""))
        done = "body[data-runs], body[data-state=error]" if text else "body:not([data-state=loading])"
        page.wait_for_selector(done, timeout=LOAD_TIMEOUT_MS)
        if page.get_attribute("body", "data-state") == "error":
            raise PageError(f"{url}index.html: the demo page failed to start: {page.inner_text('#error')}")
        visit["marks"] = page.evaluate("""() => {
            const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;
            return {ready: at('edgepack:ready'), first_result: at('edgepack:first-result'),
                    isolated: globalThis.crossOriginIsolated === true,
                    info: globalThis.edgepackDemo.pipeline.info};
        }""")
        yield page, visit
    finally:
        context.close()


def _browser_version(browser) -> str:
    return f"Chromium {browser.version} (headless)"


# ---------------------------------------------------------------- in-page timing
# Functions (not strings to eval): the page's CSP forbids eval. Texts are tokenized in the page, as
# the page does it; e2e = classify() (tokenizer + feeds + run + softmax read-out), model = run only.
_TIME_CLASSIFY = """async ([texts, o]) => {
    const p = globalThis.edgepackDemo.pipeline;
    const w0 = performance.now();
    for (let i = 0; i < 5 || performance.now() - w0 < o.warmup_ms; i++) await p.classify(texts[i % texts.length]);
    const e2e = [], model = [], chunks = [];
    let i = 0;
    for (let c = 0; c < o.chunks; c++) {
        const start = performance.now();
        let n = 0, modelMs = 0;
        while (n < o.max_calls && (n < o.min_calls || performance.now() - start < o.chunk_ms)) {
            const t0 = performance.now();
            const r = await p.classify(texts[i++ % texts.length]);
            e2e.push(performance.now() - t0);
            model.push(r.inferenceMs);
            modelMs += r.inferenceMs;
            n++;
        }
        chunks.push({calls: n, ms: performance.now() - start, model_ms: modelMs});
    }
    return {e2e, model, chunks};
}"""

# The speed gate in one page: load both precisions once (setup), then rounds in batches so the
# Python side can stop as soon as the interval is clear (edgepack.quantize.decision.measure).
_GATE_SETUP = """async ([texts, precisions, o]) => {
    const Pipeline = globalThis.edgepackDemo.pipeline.constructor;
    const base = new URL('./', location.href);
    const runs = {};
    for (const precision of precisions) {
        const p = await Pipeline.load(base, {precision});
        const feeds = texts.map((t) => p.feeds([p.tokenizer.encode(t)]));
        runs[precision] = {p, feeds};
    }
    const w0 = performance.now();
    for (let i = 0; i < 5 || performance.now() - w0 < o.warmup_ms; i++) {
        const {p, feeds} = runs[precisions[i % precisions.length]];
        await p.session.run(feeds[i % feeds.length]);
    }
    globalThis.edgepackGate = {runs, precisions, done: 0};
    const info = globalThis.edgepackDemo.pipeline.info;
    return {threads: info.threads, isolated: globalThis.crossOriginIsolated === true, ort: info.ortVersion};
}"""

_GATE_ROUNDS = """async ([k, o]) => {
    const g = globalThis.edgepackGate;
    const out = Object.fromEntries(g.precisions.map((p) => [p, []]));
    for (let r = 0; r < k; r++, g.done++) {
        const order = g.done % 2 === 0 ? g.precisions : [...g.precisions].reverse();
        for (const precision of order) {
            const {p, feeds} = g.runs[precision];
            const start = performance.now();
            let n = 0;
            while (n < 3 || performance.now() - start < o.round_ms) await p.session.run(feeds[n++ % feeds.length]);
            out[precision].push((performance.now() - start) / n);
        }
    }
    return out;
}"""


# ---------------------------------------------------------------- the speed gate
def _gate_texts(manifest: dict) -> list[str]:
    texts = [g["text"] for g in manifest.get("golden", []) if isinstance(g.get("text"), str) and g["text"].strip()]
    texts += [t for t in (manifest.get("model", {}).get("examples") or manifest.get("examples") or []) if t]
    return list(dict.fromkeys(texts)) or ["hello world"]


def _probe_dir(artifact_dir: Path, root: Path) -> Path:
    """The demo page + runtime + ORT + every model of the artifact, under the artifact's manifest."""
    from edgepack.web.bundle import DEMO_DIR, DEMO_DOCS_ONLY, ORT_PREFIX, RUNTIME_DIR, _runtime_sources
    from edgepack.web.vendor import ort_files

    probe = root / "probe"
    probe.mkdir()
    for src in DEMO_DIR.iterdir():
        if src.is_file() and not src.name.startswith(".") and src.name not in DEMO_DOCS_ONLY:
            shutil.copyfile(src, probe / src.name)
    for src, dest in _runtime_sources(RUNTIME_DIR):
        (probe / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, probe / dest)
    (probe / ORT_PREFIX).mkdir()
    for name, src in ort_files().files.items():
        os.symlink(Path(src).resolve(), probe / ORT_PREFIX / name)
    data = json.loads((artifact_dir / "manifest.json").read_text(encoding="utf-8"))
    for entry in data["precisions"].values():
        os.symlink((artifact_dir / entry["file"]).resolve(), probe / entry["file"])
    tok = data["tokenizer"]["file"]
    os.symlink((artifact_dir / tok).resolve(), probe / tok)
    # The artifact's manifest already lists every model's and the tokenizer's sha256: the page
    # verifies the very bytes it times.
    (probe / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    return probe


def measure_precisions(artifact_dir, candidate: str = "int8", *, isolations=(True, False), browser=None,
                       policy=None) -> list:
    """The wasm speed gate's rounds in headless Chromium: one Measurement (fp32 vs ``candidate``,
    model-only ms per text, interleaved) per thread mode in ``isolations`` (True: `edgepack serve`,
    N threads; False: a plain static host, 1 thread), each run until ``policy`` decides."""
    if browser is None:
        return _own_thread(_measure_precisions)(artifact_dir, candidate, isolations=isolations, policy=policy)
    return _measure_precisions(artifact_dir, candidate, isolations=isolations, browser=browser, policy=policy)


def _measure_precisions(artifact_dir, candidate="int8", *, isolations=(True, False), browser=None, policy=None):
    from edgepack.quantize.decision import Policy, measure

    policy = policy or Policy()
    artifact_dir = Path(artifact_dir)
    data = json.loads((artifact_dir / "manifest.json").read_text(encoding="utf-8"))
    texts = _gate_texts(data)
    precisions = ["fp32", candidate]
    out = []
    with tempfile.TemporaryDirectory(prefix="edgepack-wasm-gate-") as tmp, \
            (_nullcontext(browser) if browser is not None else chromium()) as b:
        probe = _probe_dir(artifact_dir, Path(tmp))
        version = _browser_version(b)
        for isolate in isolations:
            with running(probe, isolate=isolate) as url, open_demo(b, url) as (page, visit):
                info = page.evaluate(_GATE_SETUP, [texts, precisions, GATE])

                def rounds(k, page=page):
                    got = page.evaluate(_GATE_ROUNDS, [k, GATE])
                    return list(zip(got["fp32"], got[candidate]))

                where = (f"{version}, onnxruntime-web {info['ort']}, {info['threads']} thread(s), "
                         f"{'cross-origin isolated' if info['isolated'] else 'not isolated'}, model-only")
                m = measure(rounds, policy, where, {"threads": info["threads"], "isolated": info["isolated"],
                                                    "texts": len(texts)})
            if visit["errors"]:
                raise PageError(f"speed probe page reported errors: {visit['errors'][:3]}")
            out.append(m)
    return out


@contextmanager
def _nullcontext(value):
    yield value


def _own_thread(fn):
    """Run ``fn`` on a fresh thread. Playwright's sync API refuses to start on a thread whose asyncio
    loop is running -- a Jupyter kernel, or a caller already inside sync_playwright (a test session's
    shared browser) -- so the gate and the benchmark never share the caller's thread."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        box: dict = {}

        def target():
            try:
                box["value"] = fn(*args, **kwargs)
            except BaseException as exc:  # re-raised on the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=target, name=f"edgepack-{fn.__name__}")
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return run


def gate_measurements(artifact_dir, candidate: str = "int8", policy=None) -> tuple[list, str | None]:
    """(measurements, None) from Chromium, or ([], why not) -- the quantize stage then tries Node.
    A broken browser must not break the build: its failure is a reason, recorded."""
    why = chromium_available()
    if why:
        return [], why
    try:
        return measure_precisions(artifact_dir, candidate, policy=policy), None
    except Exception as exc:
        return [], f"the browser timing failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"[:300]


# ---------------------------------------------------------------- bundles for the benchmark
def _reusable(directory: Path, precision: str, build_manifest: dict) -> bool:
    """An existing bundle of ``precision`` made from exactly this build's model and tokenizer."""
    try:
        data = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        model = build_manifest["precisions"][precision]["file"]
        tok = build_manifest["tokenizer"]["file"]
        from edgepack.runtime.manifest import load_manifest

        load_manifest(directory, verify=True)  # every file of the bundle still matches its hash
    except Exception:
        return False
    same = all(data["files"].get(f, {}).get("sha256") == build_manifest["files"][f]["sha256"] for f in (model, tok))
    return same and list(data.get("precisions", {})) == [precision]


def bundles_for(project, build_dir: Path, build_manifest: dict, progress=None) -> dict[str, Path]:
    """precision -> bundle directory: the project's shipped bundle when it fits, else one under dist/bench/."""
    from edgepack.web.bundle import build_wasm_bundle

    out = {}
    for precision in ("fp32", "int8"):
        if precision not in build_manifest.get("precisions", {}):
            continue
        shipped = project.dist_dir / f"{project.name}-wasm"
        cached = project.dist_dir / "bench" / f"wasm-{precision}"
        for candidate in (shipped, cached):
            if _reusable(candidate, precision, build_manifest):
                out[precision] = candidate
                break
        else:
            if progress:
                progress.say(f"  building the {precision} bundle {cached}")
            out[precision] = build_wasm_bundle(build_dir, cached, precision,
                                               zip_path=Path(tempfile.gettempdir()) / f".edgepack-bench-{os.getpid()}.zip").directory
            Path(tempfile.gettempdir(), f".edgepack-bench-{os.getpid()}.zip").unlink(missing_ok=True)
    return out


def transfer_bytes(bundle: Path, urls: list[str]) -> tuple[int, list[str]]:
    """Bytes of the bundle files behind ``urls`` as edgepack serve sends them to a browser accepting
    br and gzip: the .br copy, else the .gz copy (kept where brotli did not pay), else the file."""
    total, files = 0, []
    # by path, not URL: every visit has its own server port
    rels = dict.fromkeys((urlsplit(u).path.lstrip("/") or "index.html") for u in urls)
    for rel in rels:
        if rel.endswith("/"):
            rel += "index.html"
        path = bundle / rel
        if not path.is_file():
            continue
        sent = next((c for c in (path.with_name(path.name + s) for s in (".br", ".gz")) if c.is_file()), path)
        total += sent.stat().st_size
        files.append(rel)
    return total, sorted(files)


# ---------------------------------------------------------------- native reference, same run
class _Native:
    """Python ONNX Runtime on the same texts, one text per call, in this process."""

    def __init__(self, build_dir: Path, precision: str, threads: int):
        from edgepack.runtime.pipeline import Pipeline

        self.pipe = Pipeline.load(build_dir, precision=precision, threads=threads, verify=False)
        self.e2e: list[float] = []
        self.model: list[float] = []
        self.e2e_chunks: list[float] = []  # calls/s per chunk, as the page's chunks
        self.model_chunks: list[float] = []

    def measure(self, texts: list[str], chunks: int, chunk_ms: float, warmup: int = 20) -> None:
        feeds = [self.pipe.encode([t]) for t in texts]
        for i in range(warmup):
            self.pipe([texts[i % len(texts)]])
        clock = time.perf_counter
        i = 0
        for _ in range(chunks):
            start, n, e2e_s, model_s = clock(), 0, 0.0, 0.0
            while n < 3 or clock() - start < chunk_ms / 1e3:
                t0 = clock()
                self.pipe([texts[i % len(texts)]])
                t1 = clock()
                self.pipe.run(feeds[i % len(feeds)])
                t2 = clock()
                self.e2e.append((t1 - t0) * 1e3)
                self.model.append((t2 - t1) * 1e3)
                e2e_s, model_s, n, i = e2e_s + t1 - t0, model_s + t2 - t1, n + 1, i + 1
            self.e2e_chunks.append(n / e2e_s)
            self.model_chunks.append(n / model_s)


# ---------------------------------------------------------------- the row provider
def _row_name(precision: str, isolate: bool) -> str:
    return f"wasm-{precision}-{'nt' if isolate else '1t'}"


def _per_call(chunk_rates: list[float]) -> float | None:
    """ms per call from the median chunk rate (calls/s): exact even where the page's timer is coarse."""
    return 1000.0 / statistics.median(chunk_rates) if chunk_rates else None


def _ratio(a, b):
    return a / b if a and b else None


def _goals(row: dict) -> list[dict]:
    values = {"latency_vs_native": row["vs_native"]["e2e_p50_ratio"], "transfer": row["transfer_bytes"],
              "cold_start": row["cold_start_ms"]["median"]}
    out = []
    for key, text, cmp, target in GOALS:
        v = values[key]
        out.append({"key": key, "goal": text, "target": target, "comparison": cmp, "value": v,
                    "met": None if v is None else (v <= target)})
    return out


def bench_rows(request) -> list[dict]:
    """Row provider of ``edgepack bench --target wasm`` (see edgepack.bench.backends)."""
    return _own_thread(_bench_rows)(request)


def _bench_rows(request) -> list[dict]:
    from edgepack.bench import stats
    from edgepack.project import load_project

    mode = "quick" if request.quick else "full"
    plan = VISIT[mode]
    rounds = max(plan["rounds"], request.rounds)
    progress = request.progress
    say = progress.say if progress is not None else (lambda *_: None)
    project = load_project(request.project_root)
    manifest = request.manifest
    if manifest.get("model", {}).get("task") not in (None, "text-classification"):
        return [{"backend": "wasm", "label": "onnxruntime-web (Chromium)", "status": "skipped",
                 "reason": f"the browser benchmark times classify(); task {manifest['model'].get('task')!r} is not timed"}]
    why = chromium_available()
    if why:
        return [{"backend": "wasm", "label": "onnxruntime-web (Chromium)", "status": "skipped", "reason": why}]
    bundles = bundles_for(project, Path(request.build_dir), manifest, progress)
    seq = request.seq_lengths[0]
    texts = list(request.texts[seq])
    cold_text = (project.example_texts or texts)[0]
    configs = [(p, iso) for p in bundles for iso in (False, True)]
    natives = {p: _Native(Path(request.build_dir), p, request.threads) for p in bundles}
    acc = {c: {"e2e": [], "model": [], "chunks": [], "model_chunks": [], "model_p50s": [], "cold": [], "ready": [], "p50s": [], "urls": [], "info": None,
               "errors": [], "observed": []} for c in configs}
    with chromium() as browser:
        version = _browser_version(browser)
        for r in range(rounds):
            order = configs[r % len(configs):] + configs[: r % len(configs)]
            for precision, isolate in order:
                a = acc[(precision, isolate)]
                say(f"  round {r + 1}/{rounds}: {_row_name(precision, isolate)}")
                with running(bundles[precision], isolate=isolate) as url, open_demo(browser, url, cold_text) as (page, visit):
                    got = page.evaluate(_TIME_CLASSIFY, [texts, plan])
                    marks = visit["marks"]
                    a["cold"].append(marks["first_result"])
                    a["ready"].append(marks["ready"])
                    a["info"] = {**marks["info"], "isolated": marks["isolated"]}
                    a["urls"].extend(q.url for q in visit["requests"])
                    for q in visit["requests"]:
                        try:  # body bytes as they crossed the wire (encoded), where Chromium reports them
                            a["observed"].append((q.url, q.sizes()["responseBodySize"]))
                        except Exception:
                            pass
                    a["errors"].extend(visit["errors"])
                a["e2e"].extend(got["e2e"])
                a["model"].extend(got["model"])
                a["p50s"].append(stats.percentile(got["e2e"], 50))
                a["chunks"].extend(c["calls"] * 1000.0 / c["ms"] for c in got["chunks"] if c["ms"] > 0)
                a["model_chunks"].extend(c["calls"] * 1000.0 / c["model_ms"] for c in got["chunks"] if c["model_ms"] > 0)
                a["model_p50s"].append(stats.percentile(got["model"], 50))
                # native, same texts, right after this visit: a slow minute hits both
                natives[precision].measure(texts, plan["chunks"], plan["chunk_ms"] / 2)
    rows = []
    for (precision, isolate), a in acc.items():
        native = natives[precision]
        e2e = stats.measurement("e2e", 1, seq, a["e2e"], a["chunks"], a["p50s"])
        model = stats.measurement("model", 1, seq, a["model"], a["model_chunks"], a["model_p50s"])
        n_e2e, n_model = stats.latency_summary(native.e2e), stats.latency_summary(native.model)
        transfer, fetched = transfer_bytes(bundles[precision], a["urls"])
        observed = {}
        for url, size in a["observed"]:
            rel = urlsplit(url).path.lstrip("/") or "index.html"
            if size > 0:  # 0: served from the page's own cache (e.g. ORT's workers re-importing the .mjs)
                observed[rel] = size  # the last visit's body size per file (all visits are alike)
        info = a["info"]
        threads = info["threads"]
        row = {
            "backend": _row_name(precision, isolate), "target": "wasm", "status": "ok", "engine": "onnxruntime-web",
            "label": (f"onnxruntime-web {info['ortVersion']} {precision}, {threads} thread{'s' if threads > 1 else ''} "
                      + ("(edgepack serve: cross-origin isolated)" if isolate else "(plain server: not isolated)")),
            "precision": precision, "threads": threads, "cross_origin_isolated": info["isolated"],
            "simd": info["simd"], "threads_reason": info.get("threadsReason"), "browser": version,
            "bundle": str(bundles[precision]), "rounds": rounds, "visits": len(a["cold"]),
            "cold_start_ms": stats.spread(a["cold"]), "ready_ms": stats.spread(a["ready"]),
            "measurements": [e2e, model],
            # Chromium coarsens performance.now() to 100 µs outside cross-origin isolation (5 µs
            # inside): per-call percentiles of the 1-thread rows are quantized to it. The per-call
            # times from whole chunks are exact but take in every stall of a busy machine; the
            # goal uses the p50 ratio (robust to stalls) and both are reported.
            "timer_resolution_ms": 0.005 if info["isolated"] else 0.1,
            "e2e_per_call_ms": _per_call(a["chunks"]), "model_per_call_ms": _per_call(a["model_chunks"]),
            "transfer_bytes": transfer, "transfer_files": fetched,
            "transfer_observed": observed,
            "native": {"engine": "onnxruntime (Python, this process)", "threads": native.pipe.threads,
                       "e2e_ms": n_e2e, "model_ms": n_model,
                       "e2e_per_call_ms": _per_call(native.e2e_chunks), "model_per_call_ms": _per_call(native.model_chunks)},
            "vs_native": {"e2e_p50_ratio": _ratio(e2e["latency_ms"]["p50"], n_e2e["p50"]),
                          "model_p50_ratio": _ratio(model["latency_ms"]["p50"], n_model["p50"]),
                          "e2e_per_call_ratio": _ratio(_per_call(a["chunks"]), _per_call(native.e2e_chunks)),
                          "model_per_call_ratio": _ratio(_per_call(a["model_chunks"]), _per_call(native.model_chunks))},
            "page_errors": a["errors"][:10],
        }
        row["wasm_goals"] = _goals(row)
        rows.append(row)
    return rows


def summary_lines(rows: list[dict]) -> list[str]:
    """One line per wasm row: what the README's browser row is made of."""
    out = []
    for r in rows:
        if r.get("status") != "ok":
            out.append(f"{r['backend']}: {r['status']} ({r.get('reason')})")
            continue
        e2e = r["measurements"][0]["latency_ms"]
        out.append(f"{r['backend']}: {r['threads']} thread(s), cold start {r['cold_start_ms']['median']:.0f} ms, "
                   f"p50 {e2e['p50']:.3f} ms, p99 {e2e['p99']:.3f} ms (native p50 {r['native']['e2e_ms']['p50']:.3f} ms, "
                   f"×{r['vs_native']['e2e_p50_ratio']:.2f}; whole-chunk per call {r['e2e_per_call_ms']:.3f} vs "
                   f"{r['native']['e2e_per_call_ms']:.3f} ms), "
                   f"transfer {r['transfer_bytes'] / 1e6:.2f} MB")
    return out
