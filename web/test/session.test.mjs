// session.mjs, the one ONNX Runtime door, both ways in Node: onnxruntime-node when it is installed
// (the optional dependency), onnxruntime-web otherwise, and what configure() pins. The runtime is
// chosen once per process, so each case runs in its own Node process on the tiny real models
// (fixtures/make_tiny_models.py). Run: node --test web/test/
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';

const WEB = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(WEB, 'test', 'fixtures');
const WEB_DIST = join(WEB, 'node_modules', 'onnxruntime-web', 'dist');
const NODE_INSTALLED = existsSync(join(WEB, 'node_modules', 'onnxruntime-node', 'package.json'));
const NO_NODE = 'onnxruntime-node is not installed in web/node_modules (npm ci --ignore-scripts installs it)';
const IDS = [5, 17, 29, 3];

/** Runs in a fresh Node: configure (if asked), one session, one run; prints {info, out} or {error}. */
function child(sessionModule, configureWith) {
  const code = `
import { readFileSync } from 'node:fs';
import { configure, OrtSession } from ${JSON.stringify(pathToFileURL(sessionModule).href)};
try {
  ${configureWith === undefined ? '' : `configure(${JSON.stringify(configureWith)});`}
  const out = {};
  let info;
  for (const precision of ['fp32', 'int8']) {
    const s = await OrtSession.create(readFileSync(${JSON.stringify(FIXTURES)} + '/model.' + precision + '.onnx'), { threads: 1 });
    const ids = ${JSON.stringify(IDS)};
    const r = await s.run({
      input_ids: { data: BigInt64Array.from(ids.map(BigInt)), dims: [1, ids.length] },
      attention_mask: { data: BigInt64Array.from(ids.map(() => 1n)), dims: [1, ids.length] },
    });
    out[precision] = Array.from(r[s.outputNames[0]].data);
    info = s.info;
    await s.release();
  }
  console.log(JSON.stringify({ info, out }));
} catch (err) {
  console.log(JSON.stringify({ error: String(err?.message ?? err) }));
}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf-8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const IN_REPO = join(WEB, 'src', 'session.mjs');

/** The JS runtime laid out as in a bundle (edgepack/*.mjs beside ort/), somewhere no node_modules
 * can be found from: onnxruntime-node is not installed there. */
function bundleLayout(t) {
  const tmp = mkdtempSync(join(tmpdir(), 'edgepack-session-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  cpSync(join(WEB, 'src'), join(tmp, 'edgepack'), { recursive: true });
  symlinkSync(WEB_DIST, join(tmp, 'ort'));
  return join(tmp, 'edgepack', 'session.mjs');
}

// The tiny models compute softmax([0.01, -0.02] * sum(ids)) (fp32) -- see make_tiny_models.py.
function expected() {
  const s = IDS.reduce((a, b) => a + b, 0);
  const e = [Math.exp(0.01 * s), Math.exp(-0.02 * s)];
  return e.map((v) => v / (e[0] + e[1]));
}

function close(got, want, tol, what) {
  assert.equal(got.length, want.length, what);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= tol, `${what}[${i}]: ${v} vs ${want[i]}`));
}

test('installed onnxruntime-node is used in Node by default, with the answers of onnxruntime-web', (t) => {
  if (!NODE_INSTALLED) {
    // In CI scripts/setup.sh installs it: a skip there would hide a broken setup.
    if (process.env.CI) assert.fail(`${NO_NODE}; CI is set, so this is a setup failure`);
    return t.skip(NO_NODE);
  }
  const native = child(IN_REPO);
  assert.ok(!native.error, native.error);
  assert.equal(native.info.runtime, 'onnxruntime-node');
  assert.equal(native.info.backend, 'cpu');
  assert.equal(native.info.threads, 1);
  const pkg = JSON.parse(spawnSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(join(WEB, 'package.json'))}))`], { encoding: 'utf-8' }).stdout);
  assert.equal(native.info.ortVersion, pkg.optionalDependencies['onnxruntime-node']);
  const wasm = child(IN_REPO, { backend: 'web', ortBaseUrl: pathToFileURL(`${WEB_DIST}/`).href });
  assert.equal(wasm.info.runtime, 'onnxruntime-web');
  close(native.out.fp32, expected(), 1e-6, 'native fp32');
  close(native.out.fp32, wasm.out.fp32, 1e-6, 'native vs wasm fp32');
  close(native.out.int8, wasm.out.int8, 1e-2, 'native vs wasm int8');
});

test('without onnxruntime-node, Node uses onnxruntime-web from the bundle layout', (t) => {
  const got = child(bundleLayout(t));
  assert.ok(!got.error, got.error);
  assert.equal(got.info.runtime, 'onnxruntime-web');
  assert.equal(got.info.backend, 'wasm');
  assert.equal(got.info.threads, 1); // Node is not cross-origin isolated
  close(got.out.fp32, expected(), 1e-6, 'wasm fp32');
});

test("configure pins the runtime: backend 'web', or the onnxruntime-web files (the wasm probe's case)", (t) => {
  if (!NODE_INSTALLED) return t.skip(NO_NODE);
  assert.equal(child(IN_REPO, { ortBaseUrl: pathToFileURL(`${WEB_DIST}/`).href }).info.runtime, 'onnxruntime-web');
  assert.equal(child(bundleLayout(t), { backend: 'web' }).info.runtime, 'onnxruntime-web');
  assert.equal(child(IN_REPO, { backend: 'node' }).info.runtime, 'onnxruntime-node');
});

test("backend 'node' where it is not installed, and an unknown backend, are errors that say what to do", (t) => {
  const missing = child(bundleLayout(t), { backend: 'node' });
  assert.match(missing.error, /onnxruntime-node is not installed: `npm install --ignore-scripts onnxruntime-node`/);
  assert.match(missing.error, /configure\(\{backend: 'web'\}\)/);
  const unknown = child(IN_REPO, { backend: 'webgpu' });
  assert.match(unknown.error, /backend "webgpu" is not one of auto, web, node/);
});
