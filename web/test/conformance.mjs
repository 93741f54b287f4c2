// The one golden-file runner for the JS tokenizer: node --test (web/test/tokenizer.test.mjs) and the
// Chromium page (tests/web/test_tokenizer_in_page.py) import this file. No Node or DOM API: text in,
// report out. Its twin for Python is tests/tokenizer/conformance.py, with the same rule:
// - an output case passes when every encoding's golden-file form (Encoding.toJSON) equals the reference's;
// - an error case passes only when the tokenizer throws the runtime's documented error class
//   (TokenizerSpecError) with a message of the kind the golden file records. A crash (TypeError, ...)
//   or a different refusal fails: "any exception" is not the expected error.

const MAX_EXAMPLES = 3;

// Error kinds the golden files record (scripts/make_golden.py REFERENCE_ERRORS) -> how edgepack's
// runtimes word that refusal. Same table in tests/tokenizer/conformance.py.
export const IMPLEMENTATION_ERRORS = Object.freeze({ truncation: /^truncation[ .:]/ });

// Golden configurations the JS tokenizer does not cover yet (issue 14 brings byte-level BPE, Unigram
// and byte fallback to Python first). Each must still be refused at load by name, so the day JS
// learns one, its entry has to go and its golden file runs in Node and Chromium like the others.
export const NOT_YET_IN_JS = Object.freeze({});

// For a NOT_YET_IN_JS name: null when load() still refuses it as listed, else why not.
export function stillRefused(name, load, ErrorClass) {
  try {
    load();
  } catch (err) {
    if (err instanceof ErrorClass && NOT_YET_IN_JS[name].test(err.message)) return null;
    return `${name}: expected the listed refusal, got ${shown(err)}`;
  }
  return `${name}: the JS tokenizer loads it now; remove it from NOT_YET_IN_JS`;
}

export const parseCorpus = (text) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l));

export function parseGolden(text) {
  const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { header: lines[0], cases: lines.slice(1) };
}

// What the tokenizer did with one case: {outputs: [...]} or {raised: error}.
export function outcome(tok, corpus, c) {
  const inputs = c.inputs.map(([i, j]) => [corpus[i], j === null ? null : corpus[j]]);
  const options = { addSpecialTokens: c.add_special_tokens };
  try {
    const encs = c.batch
      ? tok.encodeBatch(inputs.map(([t, p]) => (p === null ? t : [t, p])), options)
      : [tok.encode(inputs[0][0], inputs[0][1], options)];
    return { outputs: encs.map((e) => JSON.parse(JSON.stringify(e))) };
  } catch (raised) { // judged by verdict(): only the expected refusal passes
    return { raised };
  }
}

function equal(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, k) => equal(x, b[k]));
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
}

const shown = (err) => `${err?.constructor?.name ?? typeof err}: ${err?.message ?? String(err)}`;
const clip = (v) => JSON.stringify(v)?.slice(0, 300);

// null when `got` is what the golden case expects, else why not.
export function verdict(c, got, ErrorClass) {
  if ('error' in c) {
    const { kind } = c.error;
    if (!('raised' in got)) return `expected a ${kind} error, got outputs`;
    if (!(got.raised instanceof ErrorClass)) return `expected ${ErrorClass.name} (${kind}), got ${shown(got.raised)}`;
    const pattern = IMPLEMENTATION_ERRORS[kind];
    if (!pattern) return `golden error kind ${JSON.stringify(kind)} is unknown to this runner; add it to IMPLEMENTATION_ERRORS`;
    return pattern.test(String(got.raised.message)) ? null : `expected a ${kind} error, got ${shown(got.raised)}`;
  }
  if ('raised' in got) return `expected outputs, got ${shown(got.raised)}`;
  if (equal(got.outputs, c.outputs)) return null;
  for (let n = 0; n < Math.min(got.outputs.length, c.outputs.length); n++) {
    const w = c.outputs[n], g = got.outputs[n];
    for (const k of [...new Set([...Object.keys(w), ...Object.keys(g)])].sort()) {
      if (!equal(w[k], g[k])) return `encoding ${n} ${k}: want ${clip(w[k])} got ${clip(g[k])}`;
    }
  }
  return `want ${c.outputs.length} encodings, got ${got.outputs.length}`;
}

// Run every `stride`-th case: {checked, failure_count, failures: first few}.
export function check(tok, corpus, cases, { ErrorClass, stride = 1 }) {
  if (typeof ErrorClass !== 'function') throw new TypeError('check: pass the runtime\'s error class as ErrorClass');
  const report = { checked: 0, failure_count: 0, failures: [] };
  for (let k = 0; k < cases.length; k += stride) {
    const why = verdict(cases[k], outcome(tok, corpus, cases[k]), ErrorClass);
    report.checked += 1;
    if (why !== null) {
      report.failure_count += 1;
      if (report.failures.length < MAX_EXAMPLES) report.failures.push({ case: k, inputs: cases[k].inputs, why });
    }
  }
  return report;
}

export const describe = (name, r) => [`${name}: ${r.failure_count}/${r.checked} cases differ`,
  ...r.failures.map((f) => `  case ${f.case} inputs=${JSON.stringify(f.inputs)}: ${f.why}`)].join('\n');
