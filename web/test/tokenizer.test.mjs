// The JS tokenizer reproduces the golden files made by Hugging Face tokenizers (same files as the
// Python test: tests/tokenizer/golden) through the one JS golden runner, web/test/conformance.mjs,
// whose error rule is proved here too. Run: node --test web/test/
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Encoding, Tokenizer, TokenizerSpecError } from '../src/tokenizer.mjs';
import { NOT_YET_IN_JS, check, describe, parseCorpus, parseGolden, stillRefused } from './conformance.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GOLDEN = `${ROOT}tests/tokenizer/golden/`;
const corpus = parseCorpus(readFileSync(`${ROOT}tests/tokenizer/corpus.jsonl`, 'ascii'));
const names = readdirSync(GOLDEN).filter((f) => f.endsWith('.jsonl')).map((f) => f.slice(0, -6)).sort();
const load = (name) => Tokenizer.fromBytes(readFileSync(`${GOLDEN}${name}.tokenizer.json`), `${name}.tokenizer.json`);
const golden = (name) => parseGolden(readFileSync(`${GOLDEN}${name}.jsonl`, 'ascii'));

test('golden files cover the issue configurations', () => {
  for (const n of ['sample_wordlevel', 'bert_uncased', 'bert_cased', 'template_pairs', 'pad_trunc']) assert.ok(names.includes(n), n);
});

for (const name of names.filter((n) => n in NOT_YET_IN_JS)) {
  test(`JS does not cover ${name} yet and says so by name`, () => {
    assert.equal(stillRefused(name, () => load(name), TokenizerSpecError), null);
  });
}

for (const name of names.filter((n) => !(n in NOT_YET_IN_JS))) {
  test(`JS matches golden ${name}`, () => {
    const { cases } = golden(name);
    const report = check(load(name), corpus, cases, { ErrorClass: TokenizerSpecError });
    assert.equal(report.checked, cases.length);
    assert.equal(report.failure_count, 0, describe(name, report));
  });
}

// The real tokenizer with its refusals replaced: what a crash or a wrong refusal looks like.
function broken(tok, refuse) {
  const wrap = (fn) => (...args) => {
    try { return fn.apply(tok, args); } catch (err) { if (err instanceof TokenizerSpecError) return refuse(err); throw err; }
  };
  return { encode: wrap(tok.encode), encodeBatch: wrap(tok.encodeBatch) };
}

const REFUSALS = {
  'a TypeError': () => { throw new TypeError("Cannot read properties of undefined (reading 'length')"); },
  'another refusal': () => { throw new TokenizerSpecError('WordPiece: unk_token "[UNK]" is not in model.vocab; add it'); },
  'no refusal': () => [],
};

for (const [what, refuse] of Object.entries(REFUSALS)) {
  test(`the runner fails a tokenizer that answers an error case with ${what}`, () => {
    const { cases } = golden('pad_trunc_fixed');
    const errors = cases.filter((c) => 'error' in c).length;
    assert.ok(errors > 0, 'pad_trunc_fixed has no error case left: pick a golden file that has');
    const tok = load('pad_trunc_fixed');
    assert.equal(check(tok, corpus, cases, { ErrorClass: TokenizerSpecError }).failure_count, 0);
    const report = check(broken(tok, refuse), corpus, cases, { ErrorClass: TokenizerSpecError });
    assert.equal(report.failure_count, errors, describe('pad_trunc_fixed', report));
    assert.match(report.failures[0].why, /^expected/);
  });
}

test('offsets: UTF-16 natively, code points in codePointOffsets / toJSON', () => {
  const tok = load('bert_uncased');
  const text = 'a 👍🏽 b 𝐁x';
  const e = tok.encode(text);
  assert.ok(e instanceof Encoding);
  e.tokens.forEach((t, i) => {
    if (e.specialTokensMask[i]) return;
    const [s, u] = e.offsets[i];
    const [cs, ce] = e.codePointOffsets[i];
    assert.equal(text.slice(s, u), Array.from(text).slice(cs, ce).join(''));
  });
  assert.deepEqual(e.toJSON().offsets, e.codePointOffsets);
  assert.notDeepEqual(e.offsets, e.codePointOffsets);
});

test('lone surrogates become U+FFFD, one unit for one, never throw', () => {
  const tok = load('sample_wordlevel');
  for (const s of ['\ud800', 'a\udc00b', '\udbff\udbff x', 'x \ud83d', '\ude00\ud83d']) {
    const got = tok.encode(s).toJSON();
    const replaced = s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
    assert.deepEqual(got, tok.encode(replaced).toJSON(), JSON.stringify(s));
  }
  // a valid pair stays one code point
  assert.deepEqual(tok.encode('\ud83d\ude00').codePointOffsets.length, tok.encode('😀').codePointOffsets.length);
});

test('invalid UTF-8 tokenizer file is refused with the file named', () => {
  const bytes = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]);
  assert.throws(() => Tokenizer.fromBytes(bytes, 'bad.json'), (err) => err instanceof TokenizerSpecError && /bad\.json: not valid UTF-8/.test(err.message));
});

test('unsupported components and versions name the type and JSON path', () => {
  const spec = JSON.parse(readFileSync(`${GOLDEN}bert_uncased.tokenizer.json`, 'utf8'));
  const bad = structuredClone(spec);
  bad.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'UnicodeScripts' }] };
  assert.throws(() => Tokenizer.fromJSON(bad), { message: /^tokenizer\.json: pre_tokenizer\.pretokenizers\[1\]\.type "UnicodeScripts" is not supported; supported: Whitespace, / });
  assert.throws(() => Tokenizer.fromJSON({ ...spec, version: '2.0' }), { message: 'tokenizer.json: version "2.0" is not supported; supported: "1.0"' });
  assert.throws(() => Tokenizer.fromJSON({ ...spec, model: { ...spec.model, type: 'BPE', dropout: 0.1 } }), { message: /model\.dropout: must be null/ });
  assert.throws(() => Tokenizer.fromJSON({ ...spec, model: { type: 'Unigram', vocab: [['a', 'high']] } }), { message: /model\.vocab\[0\]: expected \[piece, score\]/ });
  assert.throws(() => Tokenizer.fromJSON({ ...spec, normalizer: { type: 'Replace', pattern: { Regex: '(?<=a)b' }, content: 'b' } }), { message: /normalizer\.pattern\.Regex: regex "\(\?<=a\)b": the group "\(\?<=" \(lookbehind/ });
  assert.throws(() => Tokenizer.fromJSON({ ...spec, pre_tokenizer: { type: 'Split', pattern: { Regex: '\\p{Greek}' }, behavior: 'Isolated' } }), { message: /pre_tokenizer\.pattern\.Regex: regex .*the class/ });
  assert.throws(() => Tokenizer.fromJSON({ ...spec, normalizer: { type: 'Precompiled', precompiled_charsmap: 'AAAA!' } }), { message: /normalizer\.precompiled_charsmap is not valid base64/ });
  assert.throws(() => Tokenizer.fromJSON({ ...spec, normalizer: { type: 'Precompiled', precompiled_charsmap: '/////wAA' } }), { message: /declares a trie of 4294967295 bytes/ });
  assert.throws(() => Tokenizer.fromJSON({ ...spec, decoder: { type: 'CTC' } }), { message: /decoder\.type "CTC" is not supported; supported: WordPiece, ByteLevel/ });
  assert.throws(() => Tokenizer.fromString('{"version": '), { message: /tokenizer\.json: not valid JSON/ });
});

test('padding / truncation API mirrors the Python one', () => {
  const tok = load('bert_uncased');
  assert.equal(tok.padding, null);
  tok.enablePadding({ length: 12, padId: 0 });
  tok.enableTruncation(8);
  assert.deepEqual(tok.truncation, { direction: 'Right', max_length: 8, strategy: 'LongestFirst', stride: 0 });
  const [a, b] = tok.encodeBatch(['hello world, a long sentence that truncates for sure', ['short', 'pair']]);
  assert.equal(a.ids.length, 12);
  assert.deepEqual(a.attentionMask, [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  assert.equal(b.ids.length, 12);
  tok.noPadding();
  tok.noTruncation();
  assert.equal(tok.encode('hello world, a long sentence that truncates for sure').ids.length > 8, true);
  assert.equal(tok.decode(tok.encode('hello world!').ids), 'hello world!');
  assert.equal(tok.idToToken(tok.tokenToId('[CLS]')), '[CLS]');
  assert.ok(tok.getVocabSize() > 100);
});

test('1,000,000 characters encode in linear time (growth ratio, not wall time)', () => {
  const tok = load('bert_uncased');
  const unit = 'The quick brown fox, naïve café 日本語 👍🏽 jumps!! 12345 ';
  const time = (n) => {
    const text = unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
    // CPU time of this process: other jobs on a shared CI machine do not count.
    let best = Infinity;
    for (let r = 0; r < 2; r++) {
      const t0 = process.cpuUsage();
      tok.encode(text);
      const d = process.cpuUsage(t0);
      best = Math.min(best, d.user + d.system);
    }
    return best;
  };
  time(100_000); // warm-up (JIT)
  const small = time(250_000), big = time(1_000_000);
  // 4x the input: linear is ~4x; quadratic would be ~16x. Generous bound for noisy CI machines.
  assert.ok(big / small < 9, `1M chars took ${(big / small).toFixed(1)}x the time of 250k chars`);
});
