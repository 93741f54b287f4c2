// The one timing harness (src/timing.mjs) and the quantize stage's Node probe (bin/wasm_probe.mjs),
// on two tiny real models (fixtures/make_tiny_models.py) in the pinned onnxruntime-web.
// Structure only, never an absolute time. Run: node --test web/test/
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';

import { configure } from '../src/session.mjs';
import { Rounds, clockOf, feedsFromRows, outputsOf, timedLoop, tryLoad } from '../src/timing.mjs';

const WEB = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(WEB, 'test', 'fixtures');
const PROBE = join(WEB, 'bin', 'wasm_probe.mjs');
// The pinned build: web/vendor/ after edgepack's vendor step, else the npm package's dist/.
const ORT_DIR = [join(WEB, 'vendor'), join(WEB, 'node_modules', 'onnxruntime-web', 'dist')].find((d) =>
  existsSync(join(d, 'ort.wasm.min.mjs')),
);
const MODELS = { fp32: join(FIXTURES, 'model.fp32.onnx'), int8: join(FIXTURES, 'model.int8.onnx') };
const ROWS = [
  { input_ids: [[1, 2, 3]], attention_mask: [[1, 1, 1]] },
  { input_ids: [[4, 5, 0, 0]], attention_mask: [[1, 1, 0, 0]] },
];
const FAST = { roundMs: 2, minCalls: 2, warmupMs: 20, warmupCalls: 2 };

configure({ ortBaseUrl: pathToFileURL(`${ORT_DIR}/`).href });

function alternates(order, keys) {
  order.forEach((o, r) => assert.deepEqual(o, r % 2 === 0 ? keys : [...keys].reverse(), `round ${r}`));
}

test('rounds alternate their order across calls and keep every round (real sessions via session.mjs)', async () => {
  assert.ok(ORT_DIR, 'onnxruntime-web not found: run `npm ci` in web/ (or edgepack vendor)');
  const feeds = ROWS.map(feedsFromRows);
  const runs = {};
  for (const [key, path] of Object.entries(MODELS)) {
    const loaded = await tryLoad(readFileSync(path), { threads: 1 });
    assert.ok(loaded.ok, loaded.error);
    assert.equal(loaded.session.info.threads, 1);
    const out = await outputsOf(loaded.session, feeds);
    assert.equal(out.length, 2);
    for (const row of out) assert.ok(Math.abs(row[0] + row[1] - 1) < 1e-5, `softmax row ${row}`);
    runs[key] = { session: loaded.session, feeds };
  }
  const rounds = new Rounds(runs, FAST);
  await rounds.warmup();
  const first = await rounds.run(3);
  const second = await rounds.run(2); // continues the alternation: round 3 starts reversed
  alternates([...first.order, ...second.order], ['fp32', 'int8']);
  for (const got of [first, second]) {
    for (const key of ['fp32', 'int8']) {
      assert.equal(got.rounds[key].length, got.order.length);
      for (const ms of got.rounds[key]) assert.ok(Number.isFinite(ms) && ms >= 0, `${key}: ${ms}`);
      for (const n of got.calls[key]) assert.ok(n >= FAST.minCalls, `${key}: ${n} calls`);
    }
  }
  assert.equal(rounds.done, 5);
});

test('timedLoop: at least minCalls and minMs, at most maxCalls, calls numbered from 0', async () => {
  const seen = [];
  const few = await timedLoop(async (i) => seen.push(i), { minMs: 0, minCalls: 4 });
  assert.equal(few.calls, 4);
  assert.deepEqual(seen, [0, 1, 2, 3]);
  const capped = await timedLoop(async () => {}, { minMs: 60_000, minCalls: 1, maxCalls: 7 });
  assert.equal(capped.calls, 7); // the cap wins over a minimum time that was never reached
  const start = performance.now();
  const timed = await timedLoop(() => new Promise((r) => setTimeout(r, 1)), { minMs: 20 });
  assert.ok(performance.now() - start >= 20 && timed.ms >= 20 && timed.calls >= 1);
});

test('bad harness input is refused, naming what is wrong', async () => {
  assert.throws(() => new Rounds({ fp32: { session: { run() {} }, feeds: [{}] } }), /two models or more, got 1/);
  assert.throws(() => new Rounds({ a: { session: { run() {} }, feeds: [] }, b: {} }), /model a: needs a session and at least one feed/);
  assert.throws(() => feedsFromRows({ input_ids: [] }), /feed input_ids: expected a non-empty/);
  assert.throws(() => clockOf('sundial'), /unknown clock "sundial"/);
  assert.ok(clockOf('cpu')() >= 0);
  const bad = await tryLoad(new Uint8Array([1, 2, 3]));
  assert.equal(bad.ok, false);
  assert.match(bad.error, /could not load the model/);
});

function probe(spec) {
  const dir = mkdtempSync(join(tmpdir(), 'edgepack-probe-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  return spawnSync(process.execPath, [PROBE, ORT_DIR, join(dir, 'spec.json')], { encoding: 'utf8', timeout: 120_000 });
}

test('the Node probe: outputs of both models and interleaved rounds, as one JSON line', () => {
  const proc = probe({ models: MODELS, feeds: ROWS, rounds: 4, roundMs: 2, warmupMs: 20, maxMs: 60_000 });
  assert.equal(proc.status, 0, proc.stderr);
  const lines = proc.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const out = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(out.models), ['fp32', 'int8']);
  for (const m of Object.values(out.models)) assert.ok(m.ok && m.outputs.length === 2, JSON.stringify(m));
  assert.equal(out.timing.rounds.fp32.length, 4);
  assert.equal(out.timing.rounds.int8.length, 4);
  alternates(out.timing.order, ['fp32', 'int8']);
  assert.ok(out.timing.texts_per_round >= 3);
});

test('the Node probe: a missing model is an error naming the file; an unloadable one is a result', () => {
  const missing = probe({ models: { fp32: MODELS.fp32, int8: join(FIXTURES, 'nope.onnx') }, feeds: ROWS, rounds: 2 });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /model int8: .*nope\.onnx: no such file/);
  assert.equal(missing.stdout, '');
  const dir = mkdtempSync(join(tmpdir(), 'edgepack-probe-'));
  writeFileSync(join(dir, 'garbage.onnx'), 'not a model');
  const garbage = probe({ models: { fp32: MODELS.fp32, int8: join(dir, 'garbage.onnx') }, feeds: ROWS, rounds: 2 });
  assert.equal(garbage.status, 0, garbage.stderr);
  const out = JSON.parse(garbage.stdout);
  assert.equal(out.models.int8.ok, false);
  assert.match(out.models.int8.error, /could not load the model/);
  assert.equal(out.timing, null); // one model loaded: nothing to interleave
});
