// The one place in JS that talks to onnxruntime-web: loading it, threads, SIMD, sessions, tensors.
//
// We import the wasm-only entry (ort.wasm.min.mjs) from the bundle's own ort/ folder and point
// env.wasm.wasmPaths there too, so nothing is fetched from a CDN (ORT's default when it cannot
// work out its own URL) and the 28 MB JSEP/WebGPU build is never loaded.

const DEFAULT_ORT_BASE = new URL('../ort/', import.meta.url);
const ORT_ENTRY = 'ort.wasm.min.mjs';
// At most 4 threads: measured gains flatten beyond that for small text models, and every extra
// worker costs start-up time and memory. (Same cap as onnxruntime-web's own default.)
const MAX_THREADS = 4;

// A tiny module using one SIMD instruction (i8x16.popcnt); same probe onnxruntime-web uses.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 30, 1, 28, 0, 65, 0, 253, 15, 253, 12, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 186, 1, 26, 11,
]);

let ortBase = DEFAULT_ORT_BASE;
let ortPromise = null;

/** Where the onnxruntime-web files live (default: ../ort/ next to this module). Call before loading. */
export function configure({ ortBaseUrl } = {}) {
  if (ortPromise) throw new Error('configure() must be called before the first session is created');
  if (ortBaseUrl) ortBase = new URL(ortBaseUrl, import.meta.url);
}

function simdSupported() {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** What this page can do, before any session exists. */
export function probeEnvironment() {
  const isolated = globalThis.crossOriginIsolated === true;
  const cores = globalThis.navigator?.hardwareConcurrency || 1;
  let reason = null;
  if (!isolated) {
    reason =
      'threads off: page is not cross-origin isolated (serve it with COOP same-origin + COEP require-corp, e.g. `edgepack serve`)';
  } else if (typeof SharedArrayBuffer === 'undefined') {
    reason = 'threads off: SharedArrayBuffer is unavailable in this browser';
  } else if (cores < 2) {
    reason = 'threads off: this device reports one CPU core';
  }
  return {
    backend: 'wasm',
    simd: simdSupported(),
    crossOriginIsolated: isolated,
    hardwareConcurrency: cores,
    threads: reason ? 1 : Math.min(MAX_THREADS, cores),
    threadsReason: reason,
  };
}

async function loadOrt(threads) {
  if (!ortPromise) {
    ortPromise = (async () => {
      const ort = await import(new URL(ORT_ENTRY, ortBase).href);
      ort.env.wasm.wasmPaths = ortBase.href;
      ort.env.wasm.numThreads = threads;
      ort.env.wasm.proxy = false; // the proxy worker is a separate file we do not ship
      ort.env.logLevel = 'error';
      return ort;
    })();
  }
  return ortPromise;
}

export class OrtSession {
  /** Create a session from model bytes. `threads` overrides the automatic choice (still 1 without isolation). */
  static async create(modelBytes, { threads } = {}) {
    const env = probeEnvironment();
    const wanted = env.threadsReason ? 1 : Math.max(1, Math.min(threads ?? env.threads, env.hardwareConcurrency));
    const ort = await loadOrt(wanted);
    const started = performance.now();
    let session;
    try {
      session = await ort.InferenceSession.create(new Uint8Array(modelBytes), {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new Error(`onnxruntime-web could not load the model: ${err?.message ?? err}`);
    }
    const info = {
      ...env,
      // ORT lowers numThreads to 1 itself when threads cannot work; report what it actually uses.
      threads: ort.env.wasm.numThreads,
      ortVersion: ort.env.versions?.web ?? ort.env.versions?.common ?? 'unknown',
      sessionMs: performance.now() - started,
    };
    return new OrtSession(ort, session, info);
  }

  constructor(ort, session, info) {
    this.ort = ort;
    this.session = session;
    this.info = info;
  }

  get inputNames() {
    return this.session.inputNames;
  }

  get outputNames() {
    return this.session.outputNames;
  }

  /**
   * Run with plain typed arrays: feeds = {name: {data: BigInt64Array|Float32Array, dims}}.
   * Returns {name: {data, dims}} so callers never touch ORT tensor objects.
   */
  async run(feeds) {
    const tensors = {};
    for (const [name, { data, dims }] of Object.entries(feeds)) {
      const type = data instanceof BigInt64Array ? 'int64' : data instanceof Float32Array ? 'float32' : null;
      if (!type) throw new Error(`input ${name}: unsupported array type ${data?.constructor?.name}`);
      tensors[name] = new this.ort.Tensor(type, data, dims);
    }
    const results = await this.session.run(tensors);
    const out = {};
    for (const [name, tensor] of Object.entries(results)) {
      out[name] = { data: tensor.data, dims: tensor.dims };
      tensor.dispose?.();
    }
    return out;
  }

  async release() {
    await this.session.release();
  }
}
