// The transformers.js page of scripts/compare_transformersjs.py (copied into its scratch directory
// as page.mjs, beside index.html). The encoder goes through transformers.js's own feature-extraction
// pipeline (dtype q8, device wasm, mean pooling + L2 normalisation in JS, as its model cards show),
// and is timed with edgepack's loop (web/src/timing.mjs, copied to ./edgepack/) so both pages are
// timed by the same code.
import { env, pipeline } from './tjs/transformers.min.js';
import { timedLoop } from './edgepack/timing.mjs';

const here = (rel) => new URL(rel, location.href).href;
const fail = (err) => {
  document.getElementById('error').textContent = String(err?.stack ?? err);
  document.body.dataset.state = 'error';
};

try {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  // A path, not a URL: transformers.js 4.3 checks that tokenizer files exist only under a local path.
  env.localModelPath = new URL('./models/', location.href).pathname;
  env.useBrowserCache = false; // a fresh browser context per visit: nothing to reuse anyway
  const wasm = env.backends.onnx.wasm;
  // transformers.js's default in Chromium is onnxruntime-web's asyncify build from its CDN: the
  // same files, served from this origin (no network here).
  wasm.wasmPaths = { mjs: here('./ort/ort-wasm-simd-threaded.asyncify.mjs'), wasm: here('./ort/ort-wasm-simd-threaded.asyncify.wasm') };
  // The thread count edgepack's session.mjs picks (ORT's own default is half the cores).
  wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

  const extractor = await pipeline('feature-extraction', 'encoder', { dtype: 'q8', device: 'wasm' });
  const embed = (text) => extractor(text, { pooling: 'mean', normalize: true });
  performance.mark('tjs:ready');
  const text = new URLSearchParams(location.hash.slice(1)).get('text');
  if (text !== null) {
    await embed(text);
    performance.mark('tjs:first-result');
  }

  globalThis.tjsPage = {
    marks() {
      const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;
      return { ready: at('tjs:ready'), first_result: at('tjs:first-result'), isolated: globalThis.crossOriginIsolated === true,
               threads: wasm.numThreads, ort: env.backends.onnx.versions?.web ?? null, transformers: env.version };
    },
    /** Same shape as timing.mjs page.predictChunks: warm-up, then timed chunks of one text per call. */
    async chunks(texts, o) {
      const w0 = performance.now();
      for (let i = 0; i < 5 || performance.now() - w0 < o.warmup_ms; i++) await embed(texts[i % texts.length]);
      const e2e = [];
      const chunks = [];
      let i = 0;
      for (let c = 0; c < o.chunks; c++) {
        const got = await timedLoop(
          async () => {
            const t0 = performance.now();
            await embed(texts[i++ % texts.length]);
            e2e.push(performance.now() - t0);
          },
          { minMs: o.chunk_ms, minCalls: o.min_calls, maxCalls: o.max_calls },
        );
        chunks.push({ calls: got.calls, ms: got.ms });
      }
      return { e2e, chunks };
    },
    async embeddings(texts) {
      const out = [];
      for (const t of texts) out.push(Array.from((await embed(t)).data));
      return out;
    },
  };
  document.body.dataset.state = 'ready';
} catch (err) {
  fail(err);
}
