// The one place in JS that talks to ONNX Runtime: loading it, threads, SIMD, sessions, tensors.
//
// Two runtimes, one interface (OrtSession):
// - onnxruntime-web (wasm): browsers, and Node when onnxruntime-node is not installed. We import the
//   wasm-only entry (ort.wasm.min.mjs) from the bundle's own ort/ folder and point
//   env.wasm.wasmPaths there too, so nothing is fetched from a CDN (ORT's default when it cannot
//   work out its own URL) and the 28 MB JSEP/WebGPU build is never loaded.
// - onnxruntime-node (native CPU; an optional dependency of this package): Node, when installed.
//   ~3x faster than the wasm build in Node (design.md). Its CPU binaries ship inside the npm package,
//   so `npm install --ignore-scripts` is enough (its postinstall only fetches GPU extras).
// configure({backend}) pins one: 'web' is what the wasm timings (the quantize stage's Node probe,
// web/bin/wasm_probe.mjs) must measure; giving ortBaseUrl (the onnxruntime-web files) means 'web' too.

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

const BACKENDS = Object.freeze(['auto', 'web', 'node']);
const IN_NODE = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

let ortBase = DEFAULT_ORT_BASE;
let backendChoice = 'auto';
let ortPromise = null;

/** Which runtime and where its files live; call before the first session. `backend`: 'auto'
 * (default: onnxruntime-node in Node when installed, else onnxruntime-web), 'web' or 'node'.
 * `ortBaseUrl`: the onnxruntime-web files (default: ../ort/ next to this module); implies 'web'. */
export function configure({ ortBaseUrl, backend } = {}) {
  if (ortPromise) throw new Error('configure() must be called before the first session is created');
  if (backend !== undefined && !BACKENDS.includes(backend)) {
    throw new Error(`configure(): backend ${JSON.stringify(backend)} is not one of ${BACKENDS.join(', ')}`);
  }
  if (ortBaseUrl) {
    ortBase = new URL(ortBaseUrl, import.meta.url);
    backendChoice = 'web';
  }
  if (backend !== undefined) backendChoice = backend;
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

/** onnxruntime-node's module, or null when it is not installed (and not required). */
async function importNodeOrt(required) {
  if (!IN_NODE) throw new Error("configure({backend: 'node'}): onnxruntime-node runs in Node only; use 'web' in a browser");
  // A specifier in a variable: a browser bundler must not try to resolve or bundle the native package.
  const name = 'onnxruntime-node';
  try {
    const m = await import(name);
    return m.InferenceSession ? m : m.default;
  } catch (err) {
    const missing = err?.code === 'ERR_MODULE_NOT_FOUND' && String(err?.message).includes(`'${name}'`);
    if (missing && !required) return null;
    throw new Error(
      missing
        ? `${name} is not installed: \`npm install --ignore-scripts ${name}\` (same version as onnxruntime-web), or configure({backend: 'web'})`
        : `${name} is installed but does not load (${err?.message ?? err}); reinstall it, or configure({backend: 'web'}) to use onnxruntime-web`,
    );
  }
}

/** {kind: 'node'|'web', ort}: the runtime this process uses, loaded once. */
async function loadOrt(threads) {
  if (!ortPromise) {
    ortPromise = (async () => {
      if (backendChoice === 'node' || (backendChoice === 'auto' && IN_NODE)) {
        const ort = await importNodeOrt(backendChoice === 'node');
        if (ort) {
          ort.env.logLevel = 'error';
          return { kind: 'node', ort };
        }
      }
      const ort = await import(new URL(ORT_ENTRY, ortBase).href);
      ort.env.wasm.wasmPaths = ortBase.href;
      ort.env.wasm.numThreads = threads;
      ort.env.wasm.proxy = false; // the proxy worker is a separate file we do not ship
      ort.env.logLevel = 'error';
      return { kind: 'web', ort };
    })();
  }
  return ortPromise;
}

/** CPU cores for native threads in Node (navigator.hardwareConcurrency exists from Node 21 only). */
async function nodeCores() {
  const os = await import('node:os');
  return os.availableParallelism?.() ?? os.cpus().length ?? 1;
}

export class OrtSession {
  /** Create a session from model bytes. `threads` overrides the automatic choice (wasm: still 1
   * without cross-origin isolation; native: up to the CPU count). */
  static async create(modelBytes, { threads } = {}) {
    const env = probeEnvironment();
    const wanted = env.threadsReason ? 1 : Math.max(1, Math.min(threads ?? env.threads, env.hardwareConcurrency));
    const { kind, ort } = await loadOrt(wanted);
    if (kind === 'node') return OrtSession.createNative(ort, modelBytes, threads);
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
      runtime: 'onnxruntime-web',
      // ORT lowers numThreads to 1 itself when threads cannot work; report what it actually uses.
      threads: ort.env.wasm.numThreads,
      ortVersion: ort.env.versions?.web ?? ort.env.versions?.common ?? 'unknown',
      sessionMs: performance.now() - started,
    };
    return new OrtSession(ort, session, info);
  }

  static async createNative(ort, modelBytes, threads) {
    const cores = await nodeCores();
    const n = Math.max(1, Math.min(threads ?? Math.min(MAX_THREADS, cores), cores));
    const started = performance.now();
    let session;
    try {
      session = await ort.InferenceSession.create(new Uint8Array(modelBytes), {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: n,
        interOpNumThreads: 1,
      });
    } catch (err) {
      throw new Error(`onnxruntime-node could not load the model: ${err?.message ?? err}`);
    }
    const info = {
      backend: 'cpu', // native, not wasm
      runtime: 'onnxruntime-node',
      simd: null, // the native build picks its own CPU kernels
      crossOriginIsolated: false,
      hardwareConcurrency: cores,
      threads: n,
      threadsReason: null,
      ortVersion: ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown',
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
