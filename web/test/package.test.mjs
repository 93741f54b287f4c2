// The JS runtime as an npm package: `npm pack` of web/ (offline), the tarball unpacked into a fresh
// node_modules beside the pinned onnxruntime-web, and its entry points imported by package name
// from a separate process: tokenize against the HF golden file, run a tiny real model.
// Run: node --test web/test/
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const WEB = fileURLToPath(new URL('..', import.meta.url));
const REPO = join(WEB, '..');
const PKG = JSON.parse(readFileSync(join(WEB, 'package.json'), 'utf-8'));
const ENTRIES = ['pipeline', 'session', 'tokenizer', 'integrity', 'artifacts', 'timing'];

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf-8', timeout: 120_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

test('package.json: MIT, version in step with Python, an export per runtime module', () => {
  const python = readFileSync(join(REPO, 'toolkit', '__init__.py'), 'utf-8').match(/__version__ = "([^"]+)"/)[1];
  assert.equal(PKG.version, python);
  assert.equal(PKG.license, 'MIT');
  assert.equal(PKG.type, 'module');
  for (const e of ENTRIES) assert.ok(PKG.exports[`./${e}`], `exports lacks ./${e}`);
});

test('npm pack gives a tarball that installs and runs by package name', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'edgepack-npm-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  // --ignore-scripts: nothing of ours runs at pack time; --offline: packing needs no registry.
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--offline', '--ignore-scripts', '--pack-destination', tmp], WEB));
  const files = packed.files.map((f) => f.path).sort();
  assert.ok(files.every((f) => f === 'package.json' || f.startsWith('src/')), `unexpected files: ${files}`);
  assert.ok(files.includes('src/tokenizer.mjs') && files.includes('src/session.mjs'));

  const scope = join(tmp, 'app', 'node_modules', '@edgepack');
  mkdirSync(scope, { recursive: true });
  run('tar', ['-xzf', join(tmp, packed.filename), '-C', scope], tmp);
  renameSync(join(scope, 'package'), join(scope, 'runtime'));
  // The dependency, resolved from web/node_modules (no network): `npm ci` in web/ installed it.
  symlinkSync(join(WEB, 'node_modules', 'onnxruntime-web'), join(tmp, 'app', 'node_modules', 'onnxruntime-web'));

  const golden = join(REPO, 'tests', 'tokenizer', 'golden');
  const app = `
import { readFileSync } from 'node:fs';
import * as root from '@edgepack/runtime';
${ENTRIES.map((e, i) => `import * as m${i} from '@edgepack/runtime/${e}';`).join('\n')}
import { Tokenizer } from '@edgepack/runtime/tokenizer';
import { configure, OrtSession } from '@edgepack/runtime/session';
const meta = JSON.parse(readFileSync(new URL(import.meta.resolve('@edgepack/runtime/package.json')), 'utf-8'));
const where = import.meta.resolve('@edgepack/runtime/tokenizer');
if (!where.includes('/app/node_modules/@edgepack/runtime/')) throw new Error('resolved outside the tarball: ' + where);
if (!root.Pipeline || ${ENTRIES.map((_, i) => `!Object.keys(m${i}).length`).join(' || ')}) throw new Error('an entry point is empty');

const corpus = readFileSync(${JSON.stringify(join(REPO, 'tests', 'tokenizer', 'corpus.jsonl'))}, 'utf-8').trim().split('\\n').map(JSON.parse);
const lines = readFileSync(${JSON.stringify(join(golden, 'bert_uncased.jsonl'))}, 'utf-8').trim().split('\\n').map(JSON.parse);
const tok = Tokenizer.fromBytes(readFileSync(${JSON.stringify(join(golden, 'bert_uncased.tokenizer.json'))}), 'bert_uncased.tokenizer.json');
let checked = 0;
for (const c of lines.slice(1)) {
  if (c.batch || c.inputs[0][1] !== null || c.error) continue;
  const got = tok.encode(corpus[c.inputs[0][0]], null, { addSpecialTokens: c.add_special_tokens });
  if (JSON.stringify(got.ids) !== JSON.stringify(c.outputs[0].ids)) throw new Error('ids differ for ' + JSON.stringify(corpus[c.inputs[0][0]]));
  checked += 1;
}

// onnxruntime-web exports no package.json: its files sit where node_modules resolution puts them.
configure({ ortBaseUrl: new URL('./node_modules/onnxruntime-web/dist/', import.meta.url).href });
const session = await OrtSession.create(readFileSync(${JSON.stringify(join(WEB, 'test', 'fixtures', 'model.fp32.onnx'))}), { threads: 1 });
const ids = tok.encode('a really good movie').ids;
const out = await session.run({
  input_ids: { data: BigInt64Array.from(ids.map(BigInt)), dims: [1, ids.length] },
  attention_mask: { data: BigInt64Array.from(ids.map(() => 1n)), dims: [1, ids.length] },
});
const s = ids.reduce((a, b) => a + b, 0);
const e = [Math.exp(0.01 * s), Math.exp(-0.02 * s)];
const want = e.map((x) => x / (e[0] + e[1]));
const got = Array.from(out.probabilities.data);
if (got.some((p, i) => Math.abs(p - want[i]) > 1e-5)) throw new Error('probabilities ' + got + ' != ' + want);
console.log(JSON.stringify({ version: meta.version, checked, ids, probabilities: got }));
`;
  writeFileSync(join(tmp, 'app', 'main.mjs'), app);
  const result = JSON.parse(run(process.execPath, ['main.mjs'], join(tmp, 'app')).trim().split('\n').pop());
  assert.equal(result.version, PKG.version);
  assert.ok(result.checked > 50, `only ${result.checked} golden cases checked`);
  assert.ok(result.ids.length > 2);
});
