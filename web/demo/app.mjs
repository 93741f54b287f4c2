// The demo page: classify as you type, show the runtime's facts and the start-up self-test.
// Everything the page needs comes from its own origin (see edgepack/session.mjs).

import { Pipeline } from './edgepack/pipeline.mjs';

const $ = (id) => document.getElementById(id);
const base = new URL('./', import.meta.url);
const state = { pipeline: null, running: false, pending: null, runs: 0 };
// For tests and curious users: the live pipeline and the self-test result.
const demo = { pipeline: null, selfTest: null, error: null, last: null };
globalThis.edgepackDemo = demo;

function formatBytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KB`;
  return `${n} B`;
}

function showError(err) {
  demo.error = String(err?.message ?? err);
  const box = $('error');
  box.textContent = `Could not start: ${demo.error}`;
  box.hidden = false;
  document.body.dataset.state = 'error';
  $('model-line').textContent = 'Model not loaded.';
  $('runtime').textContent = 'Stopped.';
  $('selftest').textContent = 'Self-test: not run (the model did not load).';
  $('text').disabled = true;
}

function renderRuntime(info, manifest) {
  const m = manifest.model;
  const n = m.labels?.length ? `${m.labels.length} labels` : m.task;
  $('title').textContent = `${m.name ?? 'model'} · edgepack`;
  $('model-line').textContent =
    `${m.name ?? 'model'} ${m.version ?? ''} · ${m.task} (${n}) · precision ${info.precision} · model ${formatBytes(info.modelBytes)}`;
  const threads = `${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  const why = info.threads === 1 && info.threadsReason ? ` (${info.threadsReason})` : '';
  $('runtime').textContent =
    `Backend: ${info.backend} (onnxruntime-web ${info.ortVersion}) · SIMD: ${info.simd ? 'on' : 'off'} · ${threads}${why}`;
  const rt = $('runtime');
  rt.dataset.backend = info.backend;
  rt.dataset.threads = String(info.threads);
  rt.dataset.simd = String(info.simd);
}

function renderSelfTest(result) {
  const el = $('selftest');
  const list = $('selftest-cases');
  list.replaceChildren();
  if (result.cases.length === 0) {
    el.textContent = 'Self-test: the manifest has no golden vectors to check.';
    el.className = 'selftest fail';
    return;
  }
  const okCount = result.cases.filter((c) => c.ok).length;
  const worst = Math.max(...result.cases.map((c) => c.maxAbsDiff));
  el.textContent =
    `Self-test ${result.passed ? 'passed' : 'FAILED'}: ${okCount}/${result.cases.length} golden vectors match ` +
    `(${result.precision}, tolerance ${result.tolerance}, worst |Δ| ${worst.toExponential(1)})`;
  el.className = `selftest ${result.passed ? 'pass' : 'fail'}`;
  el.dataset.passed = String(result.passed);
  for (const c of result.cases.filter((x) => !x.ok)) {
    const li = document.createElement('li');
    li.textContent = `“${c.text.slice(0, 60)}”: ${c.message}`;
    list.append(li);
  }
  list.hidden = list.childElementCount === 0;
}

function renderResult(r) {
  $('label').textContent = r.label;
  $('latency').textContent = `${r.latencyMs.toFixed(1)} ms (model ${r.inferenceMs.toFixed(1)} ms, ${r.tokens} tokens)`;
  const order = r.scores.map((s, i) => [s, i]);
  const items = order.map(([s, i]) => {
    const li = document.createElement('li');
    if (i === r.index) li.className = 'top';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = s.label;
    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = s.probability;
    bar.setAttribute('aria-label', `${s.label} probability`);
    const pct = document.createElement('span');
    pct.className = 'pct';
    pct.textContent = `${(s.probability * 100).toFixed(1)}%`;
    li.append(name, bar, pct);
    return li;
  });
  $('bars').replaceChildren(...items);
}

// feature-extraction models: show the embedding's size and norm instead of label bars.
async function embed(text) {
  const { outputs, encodings, latencyMs, inferenceMs } = await state.pipeline.run([text]);
  const out = outputs[Object.keys(outputs)[0]];
  const values = Array.from(out.data);
  const norm = Math.sqrt(values.reduce((a, v) => a + v * v, 0));
  return {
    label: `embedding, ${values.length} dims (‖v‖ = ${norm.toFixed(3)})`, index: -1, scores: [], probabilities: [],
    latencyMs, inferenceMs, tokens: encodings[0].ids.length, ids: encodings[0].ids, embedding: values,
  };
}

function clearResult(message) {
  $('label').textContent = message;
  $('latency').textContent = '';
  $('bars').replaceChildren();
}

// Latest-wins: while one inference runs, keep only the newest text, so typing never queues up work.
async function classify(text) {
  state.pending = text;
  if (state.running) return;
  state.running = true;
  try {
    while (state.pending !== null) {
      const current = state.pending;
      state.pending = null;
      if (current.trim() === '') {
        clearResult('—');
        demo.last = null;
        continue;
      }
      const r = state.pipeline.task === 'text-classification' ? await state.pipeline.classify(current) : await embed(current);
      demo.last = { text: current, ...r };
      state.runs += 1;
      document.body.dataset.runs = String(state.runs);
      if (state.runs === 1) performance.mark('edgepack:first-result');
      renderResult(r);
    }
  } catch (err) {
    clearResult('error');
    $('latency').textContent = String(err?.message ?? err);
  } finally {
    state.running = false;
  }
}

function renderExamples(manifest) {
  const texts = manifest.model.examples ?? manifest.examples ?? (manifest.golden ?? []).map((g) => g.text);
  const box = $('examples');
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
    box.append(b);
  }
}

async function main() {
  const stages = { manifest: 'Reading manifest…', tokenizer: 'Loading tokenizer…', model: 'Downloading model…', session: 'Starting ONNX Runtime Web…' };
  const pipeline = await Pipeline.load(base, { onProgress: (s) => ($('model-line').textContent = stages[s] ?? s) });
  state.pipeline = pipeline;
  demo.pipeline = pipeline;
  renderRuntime(pipeline.info, pipeline.manifest);
  renderExamples(pipeline.manifest);
  $('selftest').textContent = 'Self-test: running…';
  const result = await pipeline.selfTest();
  demo.selfTest = result;
  renderSelfTest(result);
  const input = $('text');
  input.disabled = false;
  input.addEventListener('input', () => classify(input.value));
  document.body.dataset.state = 'ready';
  performance.mark('edgepack:ready');
  // index.html#text=... classifies at once: links to an example, and cold-start timing (navigation -> first result).
  const preset = new URLSearchParams(location.hash.slice(1)).get('text');
  if (preset !== null) input.value = preset;
  if (input.value) classify(input.value);
}

demo.ready = main().catch(showError);
