// The demo page: classify as you type (text-classification) or compare sentences (feature-extraction:
// two texts -> cosine, the examples ranked against a query); show the runtime's facts and the
// start-up self-test. Everything the page needs comes from its own origin (see edgepack/session.mjs).

import { Pipeline, cosine, rankBy } from './edgepack/pipeline.mjs';

const $ = (id) => document.getElementById(id);
const base = new URL('./', import.meta.url);
const state = { pipeline: null, running: false, pending: null, runs: 0 };
// For tests and curious users: the live pipeline and the self-test result.
const demo = { pipeline: null, selfTest: null, error: null, last: null, similarity: null, ranking: null };
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
  for (const id of ['text', 'text-b', 'query']) $(id).disabled = true;
}

function renderRuntime(info, manifest) {
  const m = manifest.model;
  const n = m.labels?.length ? `${m.labels.length} labels` : m.task === 'feature-extraction' ? 'sentence embeddings' : m.task;
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
      const r = await state.pipeline.classify(current);
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

function exampleTexts(manifest) {
  return manifest.model.examples ?? manifest.examples ?? (manifest.golden ?? []).map((g) => g.text);
}

// ---------------------------------------------------------------- feature-extraction: similarity
// Sentences A and B -> their cosine; the manifest's examples ranked against a query. Embeddings are
// cached by text, so typing in one box re-embeds only that box and the examples are embedded once.
const RANK_MAX = 8;
const CACHE_MAX = 64;
const sim = { cache: new Map(), examples: [], running: false, dirty: false };

async function embedCached(text) {
  if (text.trim() === '') return null;
  let e = sim.cache.get(text);
  if (!e) {
    e = await state.pipeline.embed(text);
    sim.cache.set(text, e);
    // Map keeps insertion order: drop the oldest entry. An evicted example is simply embedded again.
    if (sim.cache.size > CACHE_MAX) sim.cache.delete(sim.cache.keys().next().value);
  }
  return e;
}

function renderEmbedding(a, ea) {
  if (!ea) {
    clearResult('—');
    demo.last = null;
    return;
  }
  const v = ea.embedding;
  const norm = Math.sqrt(v.reduce((acc, x) => acc + x * x, 0));
  const label = `embedding, ${v.length} dims (‖v‖ = ${norm.toFixed(3)})`;
  $('label').textContent = label;
  $('latency').textContent = `${ea.latencyMs.toFixed(1)} ms (model ${ea.inferenceMs.toFixed(1)} ms, ${ea.tokens} tokens)`;
  $('bars').replaceChildren();
  // The pipeline's own result, edgepack's shape: {embedding, ...}.
  demo.last = { ...ea, text: a };
}

function renderCosine(a, b, ea, eb) {
  const out = $('cosine');
  const meter = $('cosine-meter');
  const c = ea && eb ? cosine(ea.embedding, eb.embedding) : null;
  out.textContent = c === null ? '—' : c.toFixed(4);
  if (c === null) delete out.dataset.value;
  else out.dataset.value = String(c);
  meter.value = c ?? 0;
  demo.similarity = { a, b, cosine: c };
}

function renderRanking(query, eq, rows) {
  const items = eq
    ? rankBy(eq.embedding, rows.map((r) => r.embedding), sim.examples)
    : sim.examples.map((text, index) => ({ text, index, score: null }));
  const lis = items.map((item, rank) => {
    const li = document.createElement('li');
    li.dataset.index = String(item.index);
    if (eq && rank === 0) li.className = 'top';
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = item.text;
    text.title = item.text;
    const meter = document.createElement('meter');
    meter.min = -1;
    meter.max = 1;
    meter.value = item.score ?? 0;
    meter.setAttribute('aria-label', `similarity of “${item.text.slice(0, 40)}” to the query`);
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = item.score === null ? '—' : item.score.toFixed(4);
    li.append(text, meter, score);
    return li;
  });
  $('ranked').replaceChildren(...lis);
  $('ranked').dataset.ranked = String(Boolean(eq));
  demo.ranking = { query, items };
}

// Latest-wins, like classify(): edits made while the model runs are folded into the next round.
async function refreshSimilarity() {
  sim.dirty = true;
  if (sim.running) return;
  sim.running = true;
  try {
    while (sim.dirty) {
      sim.dirty = false;
      const [a, b, q] = [$('text').value, $('text-b').value, $('query').value];
      const ea = await embedCached(a);
      const eb = await embedCached(b);
      const eq = await embedCached(q);
      const rows = [];
      if (eq) for (const text of sim.examples) rows.push(await embedCached(text));
      renderEmbedding(a, ea);
      renderCosine(a, b, ea, eb);
      renderRanking(q, eq, rows);
      state.runs += 1;
      document.body.dataset.runs = String(state.runs);
      if (state.runs === 1) performance.mark('edgepack:first-result');
    }
  } catch (err) {
    clearResult('error');
    $('latency').textContent = String(err?.message ?? err);
  } finally {
    sim.running = false;
  }
}

function setUpSimilarity(manifest) {
  document.title = 'edgepack · in-browser semantic similarity';
  $('input-heading').firstElementChild.textContent = 'Sentence A';
  $('hint').textContent = 'Embedded as you type, entirely in this browser: no text leaves the page.';
  $('result-heading').textContent = 'Embedding of sentence A';
  $('pair').hidden = false;
  $('ranking').hidden = false;
  // Unique, non-empty examples (golden texts may hold an empty one for the self-test).
  sim.examples = [...new Set(exampleTexts(manifest).filter((t) => t.trim() !== ''))].slice(0, RANK_MAX);
  renderRanking('', null, []);
  for (const id of ['text', 'text-b', 'query']) {
    $(id).disabled = false;
    $(id).addEventListener('input', refreshSimilarity);
  }
}

function renderExamples(manifest, onPick) {
  const box = $('examples');
  for (const text of exampleTexts(manifest).slice(0, 8)) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.title = text;
    b.setAttribute('aria-label', `Use example: ${text}`);
    b.addEventListener('click', () => {
      $('text').value = text;
      onPick(text);
      $('text').focus();
    });
    box.append(b);
  }
}

async function main() {
  const phases = { manifest: 'Reading manifest…', tokenizer: 'Loading tokenizer…', model: 'Downloading model…', session: 'Starting ONNX Runtime Web…' };
  const pipeline = await Pipeline.load(base, { onProgress: (s) => ($('model-line').textContent = phases[s] ?? s) });
  state.pipeline = pipeline;
  demo.pipeline = pipeline;
  const similarity = pipeline.task === 'feature-extraction';
  renderRuntime(pipeline.info, pipeline.manifest);
  renderExamples(pipeline.manifest, similarity ? refreshSimilarity : classify);
  $('selftest').textContent = 'Self-test: running…';
  const result = await pipeline.selfTest();
  demo.selfTest = result;
  renderSelfTest(result);
  const input = $('text');
  if (similarity) {
    setUpSimilarity(pipeline.manifest);
  } else {
    input.disabled = false;
    input.addEventListener('input', () => classify(input.value));
  }
  document.body.dataset.state = 'ready';
  performance.mark('edgepack:ready');
  // index.html#text=... runs at once: links to an example, and cold-start timing (navigation -> first result).
  // Similarity pages also take b=... (sentence B) and q=... (the ranking query).
  const params = new URLSearchParams(location.hash.slice(1));
  const preset = params.get('text');
  if (preset !== null) input.value = preset;
  if (similarity) {
    if (params.has('b')) $('text-b').value = params.get('b');
    if (params.has('q')) $('query').value = params.get('q');
    if (input.value || $('text-b').value || $('query').value) refreshSimilarity();
  } else if (input.value) {
    classify(input.value);
  }
}

demo.ready = main().catch(showError);
