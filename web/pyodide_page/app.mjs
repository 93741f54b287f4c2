// The Pyodide page: start Python, install edgepack's runtime wheel, run browser_pipeline.py.
//
// Everything is fetched from this page's own origin. loadPyodide gets indexURL, lockFileURL and
// packageBaseUrl on the origin and loads no packages: with packageBaseUrl set, Pyodide 314 also
// points its CDN fallback (cdnUrl) at it, so its package loader has no way to reach a CDN.

import { loadPyodide } from './pyodide/pyodide.mjs';
import { fetchVerified } from './edgepack/integrity.mjs';
import { OrtSession } from './edgepack/session.mjs';

const $ = (id) => document.getElementById(id);
const base = new URL('./', import.meta.url);
const pyodideBase = new URL('./pyodide/', base).href;
const state = { running: false, pending: null, runs: 0 };
// For tests and curious users: Pyodide, the Python pipeline and what start-up measured.
const page = { pyodide: null, pipeline: null, selfTest: null, error: null, last: null, startup: null };
globalThis.edgepackPyodide = page;

// A Python exception reaches JS as a PythonError whose message is the whole traceback: users get its
// last line ("ArtifactError: model.fp32.onnx: ..."), the console keeps the rest.
function errorMessage(err) {
  const text = String(err?.message ?? err);
  if (!text.includes('Traceback (most recent call last)')) return text;
  const last = text.trim().split('\n').filter((line) => line.trim() !== '').pop();
  return last.replace(/^[\w.]+\.(\w+): /, '$1: ');
}

function showError(err) {
  page.error = errorMessage(err);
  const box = $('error');
  box.textContent = `Could not start: ${page.error}`;
  box.hidden = false;
  document.body.dataset.state = 'error';
  $('model-line').textContent = 'Model not loaded.';
  $('runtime').textContent = 'Stopped.';
  $('selftest').textContent = 'Self-test: not run.';
  $('text').disabled = true;
}

async function fetchManifest() {
  const response = await fetch(new URL('manifest.json', base), { cache: 'no-cache' });
  if (!response.ok) throw new Error(`manifest.json: HTTP ${response.status}; is the bundle complete?`);
  const text = await response.text();
  return { text, manifest: JSON.parse(text) };
}

/** Classify with the Python pipeline; JSON both ways so no proxies leak and floats stay exact. */
async function predict(texts) {
  const started = performance.now();
  const out = JSON.parse(await page.pipeline.predict_json(JSON.stringify(texts)));
  return { results: out, latencyMs: performance.now() - started };
}
page.predict = predict;

// r has edgepack's result shape: {label, score, probabilities} or, for an embedder, {embedding}.
function renderResult(r, latencyMs) {
  $('latency').textContent = `${latencyMs.toFixed(1)} ms (Python tokenizer + onnxruntime-web, ${r.input_ids.length} tokens)`;
  if (r.embedding) {
    $('label').textContent = `embedding, ${r.embedding.length} dims`;
    $('bars').replaceChildren();
    return;
  }
  $('label').textContent = r.label;
  const items = Object.entries(r.probabilities).map(([label, p]) => {
    const li = document.createElement('li');
    if (label === r.label) li.className = 'top';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = label;
    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = p;
    bar.setAttribute('aria-label', `${label} probability`);
    const pct = document.createElement('span');
    pct.className = 'pct';
    pct.textContent = `${(p * 100).toFixed(1)}%`;
    li.append(name, bar, pct);
    return li;
  });
  $('bars').replaceChildren(...items);
}

// Latest-wins: while one inference runs keep only the newest text, so typing never queues work.
async function classify(text) {
  state.pending = text;
  if (state.running) return;
  state.running = true;
  try {
    while (state.pending !== null) {
      const current = state.pending;
      state.pending = null;
      if (current.trim() === '') {
        $('label').textContent = '—';
        $('latency').textContent = '';
        $('bars').replaceChildren();
        page.last = null;
        continue;
      }
      const { results, latencyMs } = await predict([current]);
      page.last = { text: current, ...results[0] };
      state.runs += 1;
      document.body.dataset.runs = String(state.runs);
      renderResult(results[0], latencyMs);
    }
  } catch (err) {
    $('label').textContent = 'error';
    $('latency').textContent = errorMessage(err);
  } finally {
    state.running = false;
  }
}

function renderSelfTest(r) {
  const el = $('selftest');
  el.textContent = r.ok
    ? `Self-test passed: ${r.checked} golden vectors match (${r.precision}, tolerance ${r.tolerance}, worst |Δ| ${r.max_abs_diff.toExponential(1)})`
    : `Self-test FAILED: ${r.failures.join('; ')}`;
  el.className = `selftest ${r.ok ? 'pass' : 'fail'}`;
  el.dataset.passed = String(r.ok);
}

function renderExamples(manifest) {
  const texts = manifest.examples ?? (manifest.golden ?? []).map((g) => g.text);
  for (const text of texts.slice(0, 8)) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.title = text;
    b.setAttribute('aria-label', `Use example: ${text}`);
    b.addEventListener('click', () => {
      $('text').value = text;
      classify(text);
      $('text').focus();
    });
    $('examples').append(b);
  }
}

async function main() {
  const t0 = performance.now();
  const mark = {};
  const { text: manifestText, manifest } = await fetchManifest();
  const target = manifest.targets?.pyodide;
  if (!target) throw new Error('manifest.json: no targets.pyodide; rebuild with `edgepack build PROJECT --target pyodide`');
  const files = manifest.files ?? {};
  // Python start-up and the two Python downloads overlap.
  const [pyodide, wheel, code] = await Promise.all([
    loadPyodide({
      indexURL: pyodideBase,
      lockFileURL: `${pyodideBase}pyodide-lock.json`,
      packageBaseUrl: pyodideBase,
      packages: [],
      stdout: (line) => console.log(line),
      stderr: (line) => console.warn(line),
    }).then((p) => ((mark.pyodide = performance.now() - t0), p)),
    fetchVerified(base, target.wheel, files[target.wheel]),
    fetchVerified(base, target.page_code, files[target.page_code]),
  ]);
  page.pyodide = pyodide;
  const source = new TextDecoder().decode(code);
  $('code').firstChild.textContent = source;
  $('model-line').textContent = 'Installing edgepack’s runtime wheel…';
  // Into site-packages, as pip would (unpackArchive's default is the working directory).
  const sitePackages = pyodide.runPython('import sysconfig; sysconfig.get_paths()["purelib"]');
  pyodide.unpackArchive(wheel, 'wheel', { extractDir: sitePackages });
  pyodide.registerJsModule('edgepack_js', { OrtSession, fetchVerified, baseUrl: base.href });
  pyodide.FS.writeFile(`/home/pyodide/${target.page_code}`, source);
  mark.wheel = performance.now() - t0;

  $('model-line').textContent = 'Loading tokenizer and model…';
  const module = pyodide.pyimport(target.page_code.replace(/\.py$/, ''));
  page.pipeline = await module.BrowserPipeline.load(manifestText);
  mark.ready = performance.now() - t0;
  const info = page.pipeline.info;
  const py = pyodide.runPython('import sys; sys.version.split()[0]');
  const m = manifest.model;
  $('title').textContent = `${m.name ?? 'model'} · edgepack · Python in the browser`;
  $('model-line').textContent = `${m.name ?? 'model'} ${m.version ?? ''} · ${m.task} · precision ${manifest.default_precision}`;
  const threads = `${info.get('threads')} thread${info.get('threads') === 1 ? '' : 's'}`;
  const why = info.get('threadsReason') ? ` (${info.get('threadsReason')})` : '';
  $('runtime').textContent =
    `Python ${py} on Pyodide ${pyodide.version} · model on onnxruntime-web ${info.get('ortVersion')} (wasm, ${threads}${why}) · wheel built by ${target.wheel_builder?.builder}`;
  info.destroy();
  renderExamples(manifest);

  $('selftest').textContent = 'Self-test: running…';
  const report = await page.pipeline.self_test();
  page.selfTest = report.toJs({ dict_converter: Object.fromEntries });
  report.destroy();
  renderSelfTest(page.selfTest);
  mark.selfTest = performance.now() - t0;
  page.startup = {
    pyodideMs: mark.pyodide,
    wheelInstalledMs: mark.wheel,
    readyMs: mark.ready,
    selfTestDoneMs: mark.selfTest,
  };
  $('startup').textContent =
    `Start-up: Python ${(mark.pyodide / 1000).toFixed(2)} s · runtime wheel ${(mark.wheel / 1000).toFixed(2)} s · ` +
    `model ready ${(mark.ready / 1000).toFixed(2)} s · self-test done ${(mark.selfTest / 1000).toFixed(2)} s`;

  const input = $('text');
  input.disabled = false;
  input.addEventListener('input', () => classify(input.value));
  document.body.dataset.state = 'ready';
  if (input.value) classify(input.value);
}

page.ready = main().catch((err) => {
  console.error(err);
  showError(err);
});
