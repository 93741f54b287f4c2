// Text in, answers out: tokenize -> pad the batch -> run -> probabilities / label, plus the
// start-up self-test against the golden vectors in manifest.json.
//
// Usable by any web app: `const p = await Pipeline.load(new URL('./', import.meta.url))`.

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
   * options: {precision, threads, manifest, onProgress(stage)}
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

  /** Run the model on texts (strings or [text, pair]); returns raw outputs, encodings and timings. */
  async run(texts) {
    const t0 = performance.now();
    const encodings = texts.map((t) => (Array.isArray(t) ? this.tokenizer.encode(t[0], t[1]) : this.tokenizer.encode(t)));
    const t1 = performance.now();
    const outputs = await this.session.run(this.feeds(encodings));
    const t2 = performance.now();
    return { outputs, encodings, tokenizeMs: t1 - t0, inferenceMs: t2 - t1, latencyMs: t2 - t0 };
  }

  /** Classify one text: {label, index, probabilities, scores, latencyMs, inferenceMs, tokens, ids}. */
  async classify(text, pair) {
    const { outputs, encodings, latencyMs, inferenceMs, tokenizeMs } = await this.run([pair === undefined ? text : [text, pair]]);
    const out = outputs.probabilities;
    if (!out) throw new ManifestError(`the model has no "probabilities" output (task ${this.task}); classify() needs one`);
    const probabilities = Array.from(out.data);
    let index = 0;
    probabilities.forEach((p, i) => {
      if (p > probabilities[index]) index = i;
    });
    const label = this.labels[index] ?? String(index);
    const scores = probabilities.map((p, i) => ({ label: this.labels[i] ?? String(i), probability: p }));
    return { label, index, probabilities, scores, latencyMs, inferenceMs, tokenizeMs, tokens: encodings[0].ids.length, ids: encodings[0].ids };
  }

  /**
   * Sentence embeddings (feature-extraction models): [{text, embedding: Float32Array, ids, tokens,
   * latencyMs, inferenceMs}], one per text. One model run per text on purpose: an int8 model
   * quantizes activations with one scale per tensor (DynamicQuantizeLinear), so a text's vector
   * would depend on the texts batched with it; alone, it equals what every other target computes.
   */
  async embed(texts) {
    const out = [];
    for (const text of texts) {
      const { outputs, encodings, latencyMs, inferenceMs } = await this.run([text]);
      const name = outputs.embeddings ? 'embeddings' : this.task === 'feature-extraction' ? Object.keys(outputs)[0] : null;
      if (!name) throw new ManifestError(`the model has no "embeddings" output (task ${this.task}); embed() needs one`);
      const embedding = Float32Array.from(outputs[name].data);
      out.push({ text, embedding, ids: encodings[0].ids, tokens: encodings[0].ids.length, latencyMs, inferenceMs });
    }
    return out;
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
