// The JS pipeline's contract (argument rule, outputs-fit-task check, result shape) against the same
// cases as the Python runtime (tests/runtime/contract_cases.json). Run: node --test web/test/
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  InputError,
  ManifestError,
  ModelOutputError,
  checkGoldenProbabilities,
  checkOutputs,
  labelResult,
  textBatch,
} from '../src/pipeline.mjs';

const CASES = JSON.parse(readFileSync(new URL('../../tests/runtime/contract_cases.json', import.meta.url), 'utf-8'));

function throwsWith(fn, cls, fragment) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof cls, `${err?.name}: ${err?.message}`);
    assert.ok(err.message.includes(fragment), `"${err.message}" lacks "${fragment}"`);
    return true;
  });
}

test('textBatch: a string is one text, an array a batch, anything else an InputError', () => {
  for (const c of CASES.text_batch) {
    if (c.error) throwsWith(() => textBatch(c.texts), InputError, c.error);
    else assert.deepEqual(textBatch(c.texts), { items: c.items, single: c.single }, JSON.stringify(c.texts));
  }
  // JS-only inputs: typed arrays and undefined are not texts either; InputError is a TypeError.
  throwsWith(() => textBatch(new Uint8Array([104, 105])), InputError, 'got Uint8Array');
  throwsWith(() => textBatch(undefined), TypeError, 'got undefined');
});

test('checkOutputs: the task output, or a ModelOutputError naming what the model has', () => {
  for (const c of CASES.check_outputs) {
    const call = () => checkOutputs(c.task, c.outputs, c.labels, 'model.onnx');
    if (c.error) throwsWith(call, ModelOutputError, c.error);
    else assert.equal(call(), c.output);
  }
  assert.ok(new ModelOutputError('x') instanceof ManifestError);
});

test('checkGoldenProbabilities: logits recorded as probabilities are refused', () => {
  for (const c of CASES.golden_probabilities) {
    const call = () => checkGoldenProbabilities([{ outputs: { fp32: { probabilities: c.row } } }], 'probabilities', 'manifest.json', c.labels);
    if (c.ok) call();
    else throwsWith(call, ModelOutputError, c.error ?? 'are not probabilities');
  }
  throwsWith(() => checkGoldenProbabilities([{ outputs: { fp32: { probabilities: [NaN, 1] } } }], 'probabilities', 'm'), ModelOutputError, 'sums to');
});

test('labelResult: the shared keys equal Python, plus index and ordered scores', () => {
  for (const c of CASES.label_result) {
    if (c.error) {
      throwsWith(() => labelResult(c.row, c.labels), ModelOutputError, c.error);
      continue;
    }
    const r = labelResult(Float32Array.from(c.row), c.labels);
    const shared = { label: r.label, score: r.score, probabilities: r.probabilities };
    // float32 input: compare at float32 precision, keys and order exactly.
    assert.equal(shared.label, c.result.label);
    assert.deepEqual(Object.keys(shared.probabilities), Object.keys(c.result.probabilities));
    for (const [k, v] of Object.entries(c.result.probabilities)) assert.ok(Math.abs(shared.probabilities[k] - v) < 1e-7);
    assert.ok(Math.abs(shared.score - c.result.score) < 1e-7);
    assert.equal(r.scores.length, c.row.length);
    assert.equal(r.scores[r.index].label, r.label);
    assert.deepEqual(JSON.parse(JSON.stringify(shared)), shared, 'plain JSON, like Python');
  }
});

// Known divergence, asserted so a change is noticed: JS objects list integer-like keys first, in
// numeric order, whatever the insertion order. Labels such as ["1", "0"] therefore come out of
// `probabilities` in another order than Python's dict (same values per label); `scores` keeps label order.
test('known divergence: integer-like labels reorder the probabilities object', () => {
  const r = labelResult([0.3, 0.7], ['1', '0']);
  assert.deepEqual(Object.keys(r.probabilities), ['0', '1']);
  assert.deepEqual(r.scores.map((s) => s.label), ['1', '0']);
  assert.equal(r.probabilities['1'], 0.3);
  assert.equal(r.label, '0');
});
