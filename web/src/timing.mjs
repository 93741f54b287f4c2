// The one onnxruntime-web timing harness: interleaved rounds of two (or more) models, every round kept.
//
// Used by the quantize stage's Node probe (web/bin/wasm_probe.mjs), the wasm speed gate in
// Chromium and `edgepack bench --target wasm` (edgepack.web.gate / edgepack.web.bench_rows call the
// page helpers at the end of this file). Sessions are made only by session.mjs (the one ORT door);
// the decision itself is taken in Python (edgepack.quantize.decision) from the rounds returned here.
//
// Why rounds and not one long run per model: a noisy neighbour slows whatever runs at that moment;
// alternating the order round by round (a b, b a, a b, ...) makes it slow both alike, and the
// per-round ratio cancels it. A round is one model called repeatedly for at least `roundMs` (and at
// least `minCalls` times): sub-millisecond calls are otherwise lost in timer and GC noise, and
// Chromium coarsens performance.now() to 100 µs outside cross-origin isolation.

import { OrtSession } from './session.mjs';

export const ROUND_DEFAULTS = Object.freeze({ roundMs: 30, minCalls: 3, warmupMs: 1500, warmupCalls: 5 });

/** Milliseconds now. 'wall': performance.now(); 'cpu': this process's CPU time (Node only: one
 * wasm thread, so time the OS gives other processes on a busy build machine is not counted). */
export function clockOf(kind = 'wall') {
  if (kind === 'wall') return () => performance.now();
  if (kind === 'cpu') {
    if (typeof process === 'undefined' || typeof process.cpuUsage !== 'function') {
      throw new Error("clock 'cpu' needs Node's process.cpuUsage(); use clock 'wall' in a browser");
    }
    return () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
  }
  throw new Error(`unknown clock ${JSON.stringify(kind)}: use 'wall' or 'cpu'`);
}

/** int64 feeds for session.mjs from plain nested arrays: {name: [[id, ...], ...]} (one batch). */
export function feedsFromRows(rows) {
  return Object.fromEntries(
    Object.entries(rows).map(([name, batch]) => {
      if (!Array.isArray(batch) || batch.length === 0 || !Array.isArray(batch[0])) {
        throw new Error(`feed ${name}: expected a non-empty [batch][sequence] array of integers`);
      }
      const data = BigInt64Array.from(batch.flat().map((v) => BigInt(v)));
      return [name, { data, dims: [batch.length, batch[0].length] }];
    }),
  );
}

/** Call `fn(i)` (i = 0, 1, ...) until `minMs` of wall time and `minCalls` calls have passed, at
 * most `maxCalls` times: the one timed loop of the gate's rounds and the benchmark's chunks.
 * Returns {calls, ms}, ms as measured by `now` (wall time, or CPU time in Node). */
export async function timedLoop(fn, { minMs, minCalls = 1, maxCalls = Infinity, now = () => performance.now() }) {
  const wallStart = performance.now();
  const t0 = now();
  let n = 0;
  while (n < maxCalls && (n < minCalls || performance.now() - wallStart < minMs)) await fn(n++);
  return { calls: n, ms: now() - t0 };
}

/**
 * Interleaved rounds over `runs` = {key: {session, feeds: [feeds, ...]}}; `session` is an OrtSession
 * (or anything with the same run(feeds)). Call run(k) as often as needed: the alternation carries on
 * across calls, so a caller may stop as soon as its rule decides.
 */
export class Rounds {
  constructor(runs, options = {}) {
    this.keys = Object.keys(runs);
    if (this.keys.length < 2) throw new Error(`interleaved rounds need two models or more, got ${this.keys.length}`);
    for (const k of this.keys) {
      if (typeof runs[k]?.session?.run !== 'function' || !(runs[k].feeds?.length > 0)) {
        throw new Error(`model ${k}: needs a session and at least one feed`);
      }
    }
    this.runs = runs;
    this.o = { ...ROUND_DEFAULTS, ...options };
    this.now = clockOf(this.o.clock ?? 'wall');
    this.done = 0;
  }

  /** Time-based warm-up: V8 runs new wasm code in its baseline tier and optimizes hot functions
   * later (dynamic tiering), so the first hundreds of calls are slower than the rest. */
  async warmup() {
    const start = performance.now();
    for (let i = 0; i < this.o.warmupCalls * this.keys.length || performance.now() - start < this.o.warmupMs; i++) {
      const { session, feeds } = this.runs[this.keys[i % this.keys.length]];
      await session.run(feeds[i % feeds.length]);
    }
  }

  /** `k` more rounds: {rounds: {key: [ms per call, ...]}, order: [[key, ...] per round], calls: {key: [n, ...]}}. */
  async run(k) {
    const rounds = Object.fromEntries(this.keys.map((key) => [key, []]));
    const calls = Object.fromEntries(this.keys.map((key) => [key, []]));
    const order = [];
    for (let r = 0; r < k; r++, this.done++) {
      const keys = this.done % 2 === 0 ? this.keys : [...this.keys].reverse();
      order.push(keys);
      for (const key of keys) {
        const { session, feeds } = this.runs[key];
        const got = await timedLoop((i) => session.run(feeds[i % feeds.length]), {
          minMs: this.o.roundMs,
          minCalls: this.o.minCalls,
          now: this.now,
        });
        rounds[key].push(got.ms / got.calls);
        calls[key].push(got.calls);
      }
    }
    return { rounds, order, calls };
  }
}

/** Load a model through session.mjs; a model onnxruntime-web cannot load is reported, not thrown
 * (the quantize probe records it as "ops": fp32 ships). */
export async function tryLoad(modelBytes, options = {}) {
  try {
    return { ok: true, session: await OrtSession.create(modelBytes, options) };
  } catch (err) {
    return { ok: false, error: String(err?.message ?? err).split('\n')[0] };
  }
}

/** First output of `session` for each of `feeds`, as plain arrays (compared with native ORT in Python). */
export async function outputsOf(session, feeds) {
  const out = [];
  for (const f of feeds) out.push(Array.from((await session.run(f))[session.outputNames[0]].data));
  return out;
}

// ---------------------------------------------------------------- page helpers (Chromium)
// Called by Playwright as `(await import('./edgepack/timing.mjs')).page.<name>(demo, args)` where
// demo = globalThis.edgepackDemo (the demo page's loaded pipeline): functions, not strings to eval
// (the page's CSP forbids eval), living here so `node --test` and the bundle carry the same code.

let gate = null; // one gate per page: the module instance lives as long as the page

export const page = {
  /** Cold-start marks the page set (ms since navigation start) and what the pipeline reports. */
  marks(demo) {
    const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;
    return {
      ready: at('edgepack:ready'),
      first_result: at('edgepack:first-result'),
      isolated: globalThis.crossOriginIsolated === true,
      info: demo.pipeline.info,
    };
  },

  /** The speed gate's setup: every precision loaded once beside the page's own (same Pipeline
   * class, same session.mjs), texts tokenized in the page as the page does it, then warmed up. */
  async gateSetup(demo, [texts, precisions, options]) {
    const Pipeline = demo.pipeline.constructor;
    const base = new URL('./', location.href);
    const runs = {};
    for (const precision of precisions) {
      const p = await Pipeline.load(base, { precision });
      runs[precision] = { session: p.session, feeds: texts.map((t) => p.feeds([p.tokenizer.encode(t)])) };
    }
    gate = new Rounds(runs, options);
    await gate.warmup();
    const info = demo.pipeline.info;
    return { threads: info.threads, isolated: globalThis.crossOriginIsolated === true, ort: info.ortVersion };
  },

  /** `k` more interleaved rounds of the gate set up above (model-only ms per text). */
  async gateRounds(_demo, [k]) {
    if (!gate) throw new Error('gateRounds before gateSetup');
    return gate.run(k);
  },

  /** The benchmark's visit: warm-up, then timed chunks of predict() -- classify() or embed(), by
   * the model's task (tokenizer + feeds + run + read-out) -- with the model-only time of each call;
   * a chunk's call rate is exact even where the page's timer is coarse. */
  async predictChunks(demo, [texts, o]) {
    const p = demo.pipeline;
    const w0 = performance.now();
    for (let i = 0; i < 5 || performance.now() - w0 < o.warmup_ms; i++) await p.predict(texts[i % texts.length]);
    const e2e = [];
    const model = [];
    const chunks = [];
    let i = 0;
    for (let c = 0; c < o.chunks; c++) {
      let modelMs = 0;
      const got = await timedLoop(
        async () => {
          const t0 = performance.now();
          const r = await p.predict(texts[i++ % texts.length]);
          e2e.push(performance.now() - t0);
          model.push(r.inferenceMs);
          modelMs += r.inferenceMs;
        },
        { minMs: o.chunk_ms, minCalls: o.min_calls, maxCalls: o.max_calls },
      );
      chunks.push({ calls: got.calls, ms: got.ms, model_ms: modelMs });
    }
    return { e2e, model, chunks };
  },
};
