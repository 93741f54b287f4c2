// Speed of edgepack's JS tokenizer vs @huggingface/tokenizers (tokenizers.js) in Node. A benchmark,
// not a test; results go into toolkit/runtime/tokenizer/SPEC.md.
//
//   npm install --prefix /tmp/tokbench @huggingface/tokenizers@0.2.0   (not a project dependency)
//   HF_TOKENIZERS_JS=/tmp/tokbench/node_modules/@huggingface/tokenizers/dist/tokenizers.mjs \
//     node web/bench/tokenizer_bench.mjs [--json]
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { Tokenizer } from '../src/tokenizer.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHORT = "The movie was surprisingly good, and I'd watch it again!";
const UNIT = 'The quick brown fox, naïve café 日本語 jumps over the lazy dog!! 12345 ';
const LONG = UNIT.repeat(Math.ceil(10_000 / UNIT.length)).slice(0, 10_000);

async function loadReference() {
  const target = process.env.HF_TOKENIZERS_JS;
  try {
    return await import(target ? pathToFileURL(target).href : '@huggingface/tokenizers');
  } catch (err) {
    process.stderr.write(`@huggingface/tokenizers not found (${err.message}); set HF_TOKENIZERS_JS\n`);
    return null;
  }
}

function perCall(fn, minMs = 1500) {
  for (let i = 0; i < 50; i++) fn(); // warm-up (JIT)
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    t = performance.now();
  }
  return ((t - t0) / n) * 1000; // microseconds
}

const ref = await loadReference();
const rows = [];
for (const name of ['bert_uncased', 'sample_wordlevel']) {
  const json = JSON.parse(readFileSync(`${ROOT}tests/tokenizer/golden/${name}.tokenizer.json`, 'utf8'));
  const ours = Tokenizer.fromJSON(json);
  let theirs = null;
  if (ref) {
    try {
      theirs = new ref.Tokenizer(json, {});
      theirs.encode(SHORT);
    } catch (err) {
      theirs = null;
      rows.push({ config: name, note: `@huggingface/tokenizers cannot load it: ${err.message.split('\n')[0]}` });
    }
  }
  for (const [label, text] of [['short (56 chars)', SHORT], ['long (10,000 chars)', LONG]]) {
    const row = { config: name, input: label, edgepack_us: perCall(() => ours.encode(text)) };
    if (theirs) {
      row.hf_js_us = perCall(() => theirs.encode(text));
      row.same_ids = JSON.stringify(theirs.encode(text).ids) === JSON.stringify(ours.encode(text).ids);
    }
    rows.push(row);
  }
}
if (process.argv.includes('--json')) {
  process.stdout.write(JSON.stringify({ node: process.version, rows }, null, 1) + '\n');
} else {
  process.stdout.write(`node ${process.version}\n| config | input | edgepack JS (µs/encode) | @huggingface/tokenizers (µs/encode) | ratio | same ids |\n|---|---|---|---|---|---|\n`);
  for (const r of rows) {
    if (r.note) { process.stdout.write(`| ${r.config} | — | — | ${r.note} | — | — |\n`); continue; }
    const ratio = r.hf_js_us ? `${(r.edgepack_us / r.hf_js_us).toFixed(2)}x` : 'n/a';
    process.stdout.write(`| ${r.config} | ${r.input} | ${r.edgepack_us.toFixed(1)} | ${r.hf_js_us?.toFixed(1) ?? 'n/a'} | ${ratio} | ${r.same_ids ?? 'n/a'} |\n`);
  }
}
