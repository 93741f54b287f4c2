// Text in, answers out: tokenize -> pad the batch -> run -> probabilities / label, plus the
// start-up self-test against the golden vectors in manifest.json.
//
// Usable by any web app: `const p = await Pipeline.load(new URL('./', import.meta.url))`.
//
// The result shape is edgepack's, the same as Python's Pipeline.predict (edgepack.runtime.postprocess):
//   text-classification  {label, score, probabilities: {label: p}}   (+ index, scores, ids, tokens, *Ms)
//   feature-extraction   {embedding: [numbers]}                       (+ text, ids, tokens, *Ms)
// A string argument gives one result, an array gives an array; anything else throws InputError.

import { MANIFEST_NAME, PRECISION_TOLERANCE, SUPPORTED_FORMAT_VERSIONS } from './artifacts.mjs';
import { fetchVerified } from './integrity.mjs';
import { OrtSession } from './session.mjs';
import { Tokenizer } from './tokenizer.mjs';

export class ManifestError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** A model whose outputs cannot answer its task (logits, a missing output, the wrong width). */
export class ModelOutputError extends ManifestError {
  constructor(message) {
    super(message);
    this.name = 'ModelOutputError';
  }
}

/** predict/classify/embed got something other than a string or an array of strings. */
export class InputError extends TypeError {
  constructor(message) {
    super(message);
    this.name = 'InputError';
  }
}

// Same table and rules as edgepack.runtime.postprocess (TASK_OUTPUT, check_outputs, ...).
export const TASK_OUTPUT = Object.freeze({ 'text-classification': 'probabilities', 'feature-extraction': 'embeddings' });
const PROBABILITY_SUM_TOLERANCE = 1e-3;

function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}

/**
 * {items, single}: a string is ONE text (never split into characters); an array is a batch whose
 * items are strings or [text, pair] arrays of strings. Anything else throws InputError.
 */
export function textBatch(texts, argument = 'texts') {
  if (typeof texts === 'string') return { items: [texts], single: true };
  if (!Array.isArray(texts)) throw new InputError(`${argument}: expected a string or an array of strings, got ${typeName(texts)}`);
  texts.forEach((t, i) => {
    const pair = Array.isArray(t) && t.length === 2 && typeof t[0] === 'string' && (t[1] == null || typeof t[1] === 'string');
    if (typeof t !== 'string' && !pair) {
      throw new InputError(`${argument}[${i}]: expected a string (or a [text, pair] array of strings), got ${typeName(t)}`);
    }
  });
  return { items: texts, single: false };
}

/**
 * The output name the task's results come from, or ModelOutputError naming what the model has.
 * outputs: {name: shape | null} (shape entries: numbers or symbolic names).
 */
export function checkOutputs(task, outputs, labels, where) {
  const want = TASK_OUTPUT[task];
  const found = Object.keys(outputs).join(', ') || 'none';
  if (!want) throw new ModelOutputError(`${where}: task '${task}' is not one this runtime serves (${Object.keys(TASK_OUTPUT).join(', ')}); rebuild with a supported task`);
  if (!(want in outputs)) {
    const hint = task === 'text-classification'
      ? ' (softmax in the graph); logits are not probabilities. Re-export with `edgepack export`: an ONNX source with output = "logits" gets softmax added'
      : ' (pooled, L2-normalised sentence vectors)';
    throw new ModelOutputError(`${where}: task ${task} needs a model output named '${want}'${hint}; the model's outputs are: ${found}`);
  }
  const shape = outputs[want];
  if (shape) {
    if (shape.length !== 2) {
      throw new ModelOutputError(`${where}: output '${want}' has shape [${shape.join(', ')}]; task ${task} needs [batch, width] (one row per text); re-export the model`);
    }
    const width = shape[1];
    if (task === 'text-classification' && labels.length && Number.isInteger(width) && width !== labels.length) {
      throw new ModelOutputError(`${where}: output '${want}' has ${width} columns but the manifest lists ${labels.length} labels (${labels.join(', ')}); fix labels in edgepack.toml and rebuild`);
    }
  }
  return want;
}

/** Classification golden outputs must be probability rows, one per label (logits named 'probabilities', or a width the shape left symbolic, would pass the self-test). */
export function checkGoldenProbabilities(golden, output, where, labels = []) {
  (golden ?? []).forEach((g, i) => {
    for (const [precision, outs] of Object.entries(g.outputs ?? {})) {
      const row = outs?.[output];
      if (!Array.isArray(row) || row.length === 0) continue;
      const values = flat(row);
      if (labels.length && values.length !== labels.length) {
        throw new ModelOutputError(`${where}: golden[${i}] ${precision} '${output}' has ${values.length} values but the manifest lists ${labels.length} labels (${labels.join(', ')}); fix labels in edgepack.toml and rebuild`);
      }
      const total = values.reduce((a, b) => a + b, 0);
      const min = Math.min(...values);
      if (min < -PROBABILITY_SUM_TOLERANCE || !(Math.abs(total - 1) <= PROBABILITY_SUM_TOLERANCE)) {
        throw new ModelOutputError(`${where}: golden[${i}] ${precision} '${output}' sums to ${total.toPrecision(4)} (min ${min.toPrecision(4)}): these are not probabilities (logits without softmax?); re-export the model`);
      }
    }
  });
}

/** {label, score, probabilities: {label: p}} plus JS extras index and scores ([{label, probability}] in label order). */
export function labelResult(row, labels) {
  const values = Array.from(row, Number);
  if (values.length === 0) throw new ModelOutputError('the model returned an empty probabilities row; re-export the model');
  if (labels.length && values.length !== labels.length) {
    throw new ModelOutputError(`the model returned ${values.length} probabilities for ${labels.length} labels (${labels.join(', ')}); fix labels in edgepack.toml and rebuild`);
  }
  let index = 0;
  values.forEach((p, i) => {
    if (p > values[index]) index = i;
  });
  const name = (i) => labels[i] ?? String(i);
  const probabilities = {};
  values.forEach((p, i) => (probabilities[name(i)] = p));
  const scores = values.map((p, i) => ({ label: name(i), probability: p }));
  return { label: name(index), score: values[index], probabilities, index, scores };
}

/** Load and check manifest.json (the bundle's root of trust: it holds every other file's hash). */
export async function loadManifest(baseUrl) {
  const url = new URL(MANIFEST_NAME, baseUrl);
  const response = await fetch(url, { cache: 'no-cache', credentials: 'same-origin' });
  if (!response.ok) throw new ManifestError(`${MANIFEST_NAME}: HTTP ${response.status} from ${url.pathname}`);
  let manifest;
  try {
    manifest = await response.json();
  } catch (err) {
    throw new ManifestError(`${MANIFEST_NAME}: not valid JSON (${err.message}); rebuild the bundle`);
  }
  if (!SUPPORTED_FORMAT_VERSIONS.includes(manifest?.format_version)) {
    throw new ManifestError(
      `${MANIFEST_NAME}: format_version ${JSON.stringify(manifest?.format_version)} is not supported ` +
        `(supported: ${SUPPORTED_FORMAT_VERSIONS.join(', ')}); use the runtime that came with the bundle`,
    );
  }
  for (const key of ['model', 'precisions', 'tokenizer', 'files']) {
    if (!manifest[key]) throw new ManifestError(`${MANIFEST_NAME}: missing "${key}"; rebuild the bundle`);
  }
  return manifest;
}

// golden vectors may hold one sequence ([..]) or a batch of one ([[..]]).
function flat(values) {
  return Array.isArray(values) && Array.isArray(values[0]) ? values.flat(Infinity) : values;
}

/** Same rule as edgepack.runtime.pipeline.pad_id_of: padding.pad_id, else a [PAD]-like token, else 0. */
export function padIdOf(spec) {
  if (Number.isInteger(spec?.padding?.pad_id)) return spec.padding.pad_id;
  for (const token of ['[PAD]', '<pad>', '<PAD>']) {
    const added = (spec?.added_tokens ?? []).find((t) => t.content === token);
    if (added) return added.id;
    const vocab = spec?.model?.vocab;
    if (vocab && !Array.isArray(vocab) && Number.isInteger(vocab[token])) return vocab[token];
    if (Array.isArray(vocab)) {
      const i = vocab.findIndex((entry) => entry[0] === token); // Unigram: [[piece, score], ...]
      if (i >= 0) return i;
    }
  }
  return 0;
}

/**
 * Cosine similarity of two vectors. 0 when either is all zeros (an empty text's mean-pooled
 * embedding): "unrelated" reads better than NaN. For L2-normalised embeddings this is their dot product.
 */
export function cosine(a, b) {
  if (a.length !== b.length) throw new RangeError(`cosine: vectors of ${a.length} and ${b.length} values`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

export class Pipeline {
  /**
   * Fetch manifest, tokenizer and model (hash-checked) from `baseUrl` and create the session.
   * options: {precision, threads, manifest, onProgress(phase)}
   */
  static async load(baseUrl, options = {}) {
    const base = new URL(baseUrl, globalThis.location?.href);
    const progress = options.onProgress ?? (() => {});
    progress('manifest');
    const manifest = options.manifest ?? (await loadManifest(base));
    const precision = options.precision ?? manifest.default_precision ?? Object.keys(manifest.precisions)[0];
    const entry = manifest.precisions[precision];
    if (!entry) {
      throw new ManifestError(
        `${MANIFEST_NAME}: no ${precision} model in this bundle (it has: ${Object.keys(manifest.precisions).join(', ') || 'none'})`,
      );
    }
    progress('tokenizer');
    const tokFile = manifest.tokenizer.file;
    const tokBytes = await fetchVerified(base, tokFile, manifest.files[tokFile]);
    const tokText = new TextDecoder('utf-8', { fatal: true }).decode(tokBytes);
    const tokenizer = Tokenizer.fromString(tokText, tokFile);
    // Same adjustments as edgepack.runtime.pipeline.Pipeline: never longer than the model's
    // max_length, and pad per batch (feeds()) rather than to a fixed length -- same answers, less work.
    const maxLength = manifest.model.max_length;
    const trunc = tokenizer.truncation;
    if (maxLength && (!trunc || (trunc.max_length ?? maxLength) > maxLength)) tokenizer.enableTruncation(maxLength);
    if (tokenizer.padding) tokenizer.noPadding();
    progress('model');
    const modelBytes = await fetchVerified(base, entry.file, manifest.files[entry.file]);
    progress('session');
    const session = await OrtSession.create(modelBytes, { threads: options.threads });
    return new Pipeline({ manifest, precision, tokenizer, session, modelBytes: modelBytes.byteLength, tokenizerSpec: JSON.parse(tokText) });
  }

  constructor({ manifest, precision, tokenizer, session, modelBytes, tokenizerSpec }) {
    this.manifest = manifest;
    this.precision = precision;
    this.tokenizer = tokenizer;
    this.session = session;
    this.modelBytes = modelBytes;
    this.labels = manifest.model.labels ?? [];
    this.task = manifest.model.task;
    this.tolerance = manifest.precisions[precision].tolerance ?? PRECISION_TOLERANCE[precision];
    this.padId = padIdOf(tokenizerSpec);
    this.inputNames = (manifest.inputs ?? []).map((i) => i.name);
    if (this.inputNames.length === 0) this.inputNames = session.inputNames;
    // Refuse at load a model whose outputs cannot answer the task: a green self-test over logits
    // would be a silent wrong answer. Names come from the session, shapes from the (hash-checked) manifest.
    const declared = Object.fromEntries((manifest.outputs ?? []).map((o) => [o.name, o.shape ?? null]));
    const outputs = Object.fromEntries((session.outputNames ?? Object.keys(declared)).map((n) => [n, declared[n] ?? null]));
    const where = manifest.precisions[precision].file ?? MANIFEST_NAME;
    this.resultOutput = checkOutputs(this.task, outputs, this.labels, where);
    if (this.task === 'text-classification') checkGoldenProbabilities(manifest.golden, this.resultOutput, MANIFEST_NAME, this.labels);
  }

  /** Runtime facts for display: backend, simd, threads (+ why not), ORT version, model size. */
  get info() {
    return { ...this.session.info, precision: this.precision, modelBytes: this.modelBytes };
  }

  /** Pad a list of encodings ({ids, attentionMask, typeIds}) into int64 feeds, right-padded to the longest. */
  feeds(encodings) {
    const batch = encodings.length;
    const seq = Math.max(1, ...encodings.map((e) => e.ids.length));
    const ids = new BigInt64Array(batch * seq).fill(BigInt(this.padId));
    const mask = new BigInt64Array(batch * seq);
    const types = new BigInt64Array(batch * seq);
    encodings.forEach((e, b) => {
      for (let i = 0; i < e.ids.length; i++) {
        ids[b * seq + i] = BigInt(e.ids[i]);
        mask[b * seq + i] = BigInt(e.attentionMask?.[i] ?? 1);
        types[b * seq + i] = BigInt(e.typeIds?.[i] ?? 0);
      }
    });
    const all = { input_ids: ids, attention_mask: mask, token_type_ids: types };
    const feeds = {};
    for (const name of this.inputNames) {
      if (!all[name]) throw new ManifestError(`model input ${name} is not one edgepack knows (input_ids, attention_mask, token_type_ids)`);
      feeds[name] = { data: all[name], dims: [batch, seq] };
    }
    return feeds;
  }

  /**
   * Run the model: the raw outputs ({name: {data, dims}}, one row per text), encodings and timings.
   * texts: a string (a batch of one) or an array of strings / [text, pair] arrays.
   */
  async run(texts) {
    const { items } = textBatch(texts);
    const t0 = performance.now();
    const encodings = items.map((t) => (Array.isArray(t) ? this.tokenizer.encode(t[0], t[1] ?? undefined) : this.tokenizer.encode(t)));
    const t1 = performance.now();
    const outputs = await this.session.run(this.feeds(encodings));
    const t2 = performance.now();
    return { outputs, encodings, tokenizeMs: t1 - t0, inferenceMs: t2 - t1, latencyMs: t2 - t0 };
  }

  /** Results in edgepack's shape for this model's task: classify() or embed(). A string -> one result, an array -> an array. */
  async predict(texts) {
    return this.task === 'text-classification' ? this.classify(texts) : this.embed(texts);
  }

  requireTask(task, method) {
    if (this.task !== task) {
      const other = this.task === 'text-classification' ? 'classify()' : 'embed()';
      throw new ModelOutputError(`${method} needs a ${task} model; this one is ${this.task}: use ${other} or predict()`);
    }
  }

  /**
   * Classify: a string -> {label, score, probabilities: {label: p}, index, scores, latencyMs,
   * inferenceMs, tokenizeMs, tokens, ids}; an array -> one such result per text. classify(text, pair)
   * classifies one pair. One model run per text, like embed() (see there).
   */
  async classify(texts, pair) {
    this.requireTask('text-classification', 'classify()');
    let batch;
    if (pair !== undefined) {
      if (typeof texts !== 'string' || typeof pair !== 'string') throw new InputError(`classify(text, pair): both must be strings, got ${typeName(texts)} and ${typeName(pair)}`);
      batch = { items: [[texts, pair]], single: true };
    } else {
      batch = textBatch(texts);
    }
    const out = [];
    for (const item of batch.items) {
      const { outputs, encodings, latencyMs, inferenceMs, tokenizeMs } = await this.run([item]);
      const result = labelResult(outputs[this.resultOutput].data, this.labels);
      out.push({ ...result, latencyMs, inferenceMs, tokenizeMs, tokens: encodings[0].ids.length, ids: encodings[0].ids });
    }
    return batch.single ? out[0] : out;
  }

  /**
   * Sentence embeddings (feature-extraction models): a string -> {embedding: number[], text, ids,
   * tokens, latencyMs, inferenceMs}; an array -> one per text. One model run per text on purpose: an
   * int8 model quantizes activations with one scale per tensor (DynamicQuantizeLinear), so a text's
   * vector would depend on the texts batched with it; alone, it equals what every other target computes.
   */
  async embed(texts) {
    this.requireTask('feature-extraction', 'embed()');
    const { items, single } = textBatch(texts);
    const out = [];
    for (const text of items) {
      const { outputs, encodings, latencyMs, inferenceMs } = await this.run([text]);
      // A plain array, as in Python: JSON.stringify(Float32Array) would give {"0": ...}, not a list.
      const embedding = Array.from(outputs[this.resultOutput].data);
      out.push({ embedding, text, ids: encodings[0].ids, tokens: encodings[0].ids.length, latencyMs, inferenceMs });
    }
    return single ? out[0] : out;
  }

  /** Cosine similarity of two texts' embeddings. */
  async similarity(a, b) {
    const [ea, eb] = await this.embed([a, b]);
    return cosine(ea.embedding, eb.embedding);
  }

  /** texts ranked by cosine to query, most similar first (ties keep input order): [{text, index, score}]. */
  async rank(query, texts) {
    const [q, ...rows] = await this.embed([query, ...texts]);
    return rankBy(q.embedding, rows.map((r) => r.embedding), texts);
  }

  /**
   * Check tokenizer and model against manifest.golden for this precision.
   * Returns {passed, precision, tolerance, cases: [{text, idsMatch, maxAbsDiff, ok, message}]}.
   */
  async selfTest() {
    const cases = [];
    for (const g of this.manifest.golden ?? []) {
      const expectedOut = g.outputs?.[this.precision];
      const c = { text: g.text, idsMatch: true, maxAbsDiff: 0, ok: true, message: '' };
      const enc = g.pair == null ? this.tokenizer.encode(g.text) : this.tokenizer.encode(g.text, g.pair);
      const goldenIds = flat(g.input_ids).map(Number);
      c.idsMatch = enc.ids.length === goldenIds.length && enc.ids.every((v, i) => Number(v) === goldenIds[i]);
      if (!expectedOut) {
        c.ok = false;
        c.message = `no ${this.precision} outputs recorded for this golden vector`;
        cases.push(c);
        continue;
      }
      // Model check on the recorded ids, so a tokenizer bug and a model bug are reported apart.
      const recorded = {
        ids: goldenIds,
        attentionMask: flat(g.attention_mask ?? goldenIds.map(() => 1)).map(Number),
        typeIds: g.token_type_ids ? flat(g.token_type_ids).map(Number) : undefined,
      };
      const outputs = await this.session.run(this.feeds([recorded]));
      for (const [name, values] of Object.entries(expectedOut)) {
        const got = outputs[name]?.data;
        const want = flat(values);
        if (!got || got.length !== want.length) {
          c.ok = false;
          c.message += `${name}: ${got ? got.length : 'no'} values, expected ${want.length}. `;
          continue;
        }
        for (let i = 0; i < want.length; i++) c.maxAbsDiff = Math.max(c.maxAbsDiff, Math.abs(got[i] - want[i]));
      }
      if (!c.idsMatch) c.message += 'token ids differ from the golden ones. ';
      if (c.maxAbsDiff > this.tolerance) c.message += `outputs differ by ${c.maxAbsDiff.toExponential(2)} > ${this.tolerance}. `;
      c.ok = c.ok && c.idsMatch && c.maxAbsDiff <= this.tolerance;
      c.message = c.message.trim();
      cases.push(c);
    }
    const passed = cases.length > 0 && cases.every((c) => c.ok);
    return { passed, precision: this.precision, tolerance: this.tolerance, cases };
  }
}

/** Rank precomputed vectors against a query vector: [{text, index, score}], best first, stable on ties. */
export function rankBy(query, vectors, texts = []) {
  return vectors
    .map((v, index) => ({ text: texts[index], index, score: cosine(query, v) }))
    .sort((x, y) => y.score - x.score || x.index - y.index);
}

export { OrtSession } from './session.mjs';
export { IntegrityError } from './integrity.mjs';
