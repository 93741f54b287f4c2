"""The wasm speed gate in headless Chromium: fp32 vs the quantized model, timed in the page a user opens.

design.md: an int8 LSTM ran slower than fp32 in onnxruntime-web, so whether int8 ships in the
browser is measured. Both precisions are loaded in one demo page (served by edgepack.web.serve, with
and without cross-origin isolation) and timed model-only in interleaved rounds by the page helpers
of web/src/timing.mjs, batch by batch, until the rule in edgepack.quantize.decision decides.
`edgepack quantize` runs it once per inputs and records the decision; builds only read it.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager, nullcontext
from pathlib import Path

from edgepack.web import chromium
from edgepack.web.serve import running
from edgepack.web.visit import PageError, call, open_demo

# Page-side round settings (ms): see ROUND_DEFAULTS in web/src/timing.mjs for why rounds are timed.
ROUNDS = {"roundMs": 30, "warmupMs": 1500}


def gate_texts(manifest: dict) -> list[str]:
    """The texts timed: the golden vectors' and the project's examples (tokenized in the page)."""
    texts = [g["text"] for g in manifest.get("golden", []) if isinstance(g.get("text"), str) and g["text"].strip()]
    texts += [t for t in (manifest.get("model", {}).get("examples") or manifest.get("examples") or []) if t]
    return list(dict.fromkeys(texts)) or ["hello world"]


@contextmanager
def probe_dir(artifact_dir: Path):
    """A temporary page: the demo + JS runtime + ORT + every model of the artifact, under the
    artifact's own manifest (which lists every model's and the tokenizer's sha256: the page verifies
    the very bytes it times). Large files are symlinked, not copied."""
    from edgepack.web.bundle import RUNTIME_DIR, _runtime_sources, copy_page
    from edgepack.web.vendor import ort_files

    with tempfile.TemporaryDirectory(prefix="edgepack-wasm-gate-") as tmp:
        probe = Path(tmp) / "probe"
        probe.mkdir()
        copy_page(probe, _runtime_sources(RUNTIME_DIR), ort_files().files, link_ort=True)
        data = json.loads((artifact_dir / "manifest.json").read_text(encoding="utf-8"))
        for rel in [e["file"] for e in data["precisions"].values()] + [data["tokenizer"]["file"]]:
            os.symlink((artifact_dir / rel).resolve(), probe / rel)
        (probe / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
        yield probe, data


def measure_precisions(artifact_dir, candidate: str = "int8", *, isolations=(True, False), browser=None,
                       policy=None) -> list:
    """The wasm speed gate's rounds in headless Chromium: one Measurement (fp32 vs ``candidate``,
    model-only ms per text, interleaved) per thread mode in ``isolations`` (True: `edgepack serve`,
    N threads; False: a plain static host, 1 thread), each run until ``policy`` decides.
    ``browser``: a running Playwright browser to use (else one is launched on its own thread)."""
    if browser is None:
        return chromium.on_own_thread(_measure)(artifact_dir, candidate, isolations, None, policy)
    return _measure(artifact_dir, candidate, isolations, browser, policy)


def _measure(artifact_dir, candidate, isolations, browser, policy) -> list:
    from edgepack.quantize.decision import Policy, measure

    policy = policy or Policy()
    precisions = ["fp32", candidate]
    out = []
    with probe_dir(Path(artifact_dir)) as (probe, data), \
            (nullcontext(browser) if browser is not None else chromium.launch("wasm speed gate")) as b:
        texts = gate_texts(data)
        for isolate in isolations:
            with running(probe, isolate=isolate) as url, open_demo(b, url) as (page, log):
                info = call(page, "gateSetup", texts, precisions, ROUNDS)

                def rounds(k, page=page):
                    got = call(page, "gateRounds", k)["rounds"]
                    return list(zip(got["fp32"], got[candidate]))

                where = (f"{chromium.version(b)}, onnxruntime-web {info['ort']}, {info['threads']} thread(s), "
                         f"{'cross-origin isolated' if info['isolated'] else 'not isolated'}, model-only")
                m = measure(rounds, policy, where, {"threads": info["threads"], "isolated": info["isolated"],
                                                    "texts": len(texts)})
            if log.errors:
                raise PageError(f"speed probe page reported errors: {log.errors[:3]}")
            out.append(m)
    return out


def gate_measurements(artifact_dir, candidate: str = "int8", policy=None) -> tuple[list, str | None]:
    """(measurements, None) from Chromium, or ([], why not) -- the quantize stage then tries Node.
    A broken browser must not break the build: its failure is a reason, recorded."""
    why = chromium.available()
    if why:
        return [], why
    try:
        return measure_precisions(artifact_dir, candidate, policy=policy), None
    except Exception as exc:
        return [], f"the browser timing failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"[:300]
