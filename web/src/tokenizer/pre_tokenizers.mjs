// Mirrors toolkit/runtime/tokenizer/pre_tokenizers.py (spec: toolkit/runtime/tokenizer/SPEC.md).
// One factory, fromSpec, dispatches on the spec's `type`; unknown types are refused by name.
import { byteLevel } from './byte_level.mjs';
import { SCHEMES, metaspace } from './metaspace.mjs';
import { compilePattern, findSpans } from './regex.mjs';
import { F_NUM, F_PUNCT, F_SPACE, F_WORD, flagsOf, has } from './unicode.mjs';

// Pre-tokenizers never change characters, so a pre-token is just a span [a, b) of the normalized
// piece: they push span pairs onto `out` (flat [a0, b0, a1, b1, ...]) instead of copying strings.
const BEHAVIORS = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];

function charMatches(chars, a, b, flag) { // tokenizers' Fn(char) pattern: each matching char is one match
  if (a === b) return [[a, a, false]];
  const out = [];
  let last = a;
  for (let i = a; i < b; i++) {
    if (has(chars[i], flag)) {
      if (last < i) out.push([last, i, false]);
      out.push([i, i + 1, true]);
      last = i + 1;
    }
  }
  if (last < b) out.push([last, b, false]);
  return out;
}

function applyBehavior(matches, behavior) {
  if (behavior === 'Removed') return matches.filter((m) => !m[2]);
  if (behavior === 'Isolated') return matches;
  const acc = [];
  let prev = false;
  if (behavior === 'MergedWithPrevious') {
    for (const [a, b, m] of matches) {
      if (m && !prev && acc.length) acc[acc.length - 1][1] = b; else acc.push([a, b]);
      prev = m;
    }
  } else if (behavior === 'MergedWithNext') {
    for (let k = matches.length - 1; k >= 0; k--) {
      const [a, b, m] = matches[k];
      if (m && !prev && acc.length) acc[acc.length - 1][0] = a; else acc.push([a, b]);
      prev = m;
    }
    acc.reverse();
  } else {
    for (const [a, b, m] of matches) {
      if (m === prev && acc.length) acc[acc.length - 1][1] = b; else acc.push([a, b]);
      prev = m;
    }
  }
  return acc;
}

function whitespaceSplit(chars, a, b, out) {
  let start = -1;
  for (let i = a; i < b; i++) {
    if (flagsOf(chars[i].codePointAt(0)) & F_SPACE) {
      if (start >= 0) { out.push(start, i); start = -1; }
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(start, b);
}

function whitespaceRegex(chars, a, b, out) { // \w+|[^\w\s]+
  let start = -1, kind = 0; // 1 word, 2 other
  for (let i = a; i <= b; i++) {
    let k = 0;
    if (i < b) {
      const f = flagsOf(chars[i].codePointAt(0));
      k = f & F_WORD ? 1 : f & F_SPACE ? 0 : 2;
    }
    if (k !== kind) {
      if (kind) out.push(start, i);
      start = i; kind = k;
    }
  }
}

// WhitespaceSplit then Punctuation(Isolated), fused into one pass.
function bertPreTokenize(chars, a, b, out) {
  let start = -1;
  for (let i = a; i < b; i++) {
    const f = flagsOf(chars[i].codePointAt(0));
    if (f & (F_SPACE | F_PUNCT)) {
      if (start >= 0) { out.push(start, i); start = -1; }
      if (!(f & F_SPACE)) out.push(i, i + 1);
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(start, b);
}

const byFlag = (flag, behavior) => (chars, a, b, out) => {
  let any = false;
  for (let i = a; i < b && !any; i++) any = has(chars[i], flag);
  if (!any) { if (b > a) out.push(a, b); return; }
  for (const [s, e] of applyBehavior(charMatches(chars, a, b, flag), behavior)) if (e > s) out.push(s, e);
};
// Split: regex or string matches (an empty match still cuts), with a behaviour; invert swaps them.
const splitBy = (re, behavior, invert) => (chars, a, b, out) => {
  if (a === b) return;
  const sub = a === 0 && b === chars.length ? chars : chars.slice(a, b);
  const matches = [];
  let last = 0;
  for (const [s, e] of findSpans(re, sub)) {
    if (last < s) matches.push([a + last, a + s, invert]);
    matches.push([a + s, a + e, !invert]);
    last = e;
  }
  if (last < sub.length) matches.push([a + last, b, invert]);
  for (const [s, e] of applyBehavior(matches, behavior)) if (e > s) out.push(s, e);
};

/** The full path's pre-tokens of chars (one stretch): [[word chars, position of each], ...]. ByteLevel and
 * Metaspace change characters and build the positions; the others cut them along their spans. */
export function pieces(p, chars, pos, starts) {
  if (p.transforms) return p.pieces(chars, pos, starts);
  const spans = [];
  p(chars, 0, chars.length, spans);
  const out = [];
  for (let k = 0; k < spans.length; k += 2) out.push([chars.slice(spans[k], spans[k + 1]), pos.slice(spans[k], spans[k + 1])]);
  return out;
}

export const SUPPORTED = Object.freeze(['Whitespace', 'WhitespaceSplit', 'BertPreTokenizer', 'Punctuation', 'Digits', 'Split', 'ByteLevel',
  'Metaspace', 'Sequence']);

function behaviorOf(obj, ctx, dflt) {
  const b = ctx.get(obj, 'behavior', 'string', dflt);
  if (!BEHAVIORS.includes(b)) throw ctx.at('behavior').error(`"${b}" is not supported; supported: ${BEHAVIORS.join(', ')}`);
  return b;
}

export function fromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  switch (ctx.typeOf(obj, SUPPORTED)) {
    case 'Whitespace': return whitespaceRegex;
    case 'WhitespaceSplit': return whitespaceSplit;
    case 'BertPreTokenizer': return bertPreTokenize;
    case 'Punctuation': return byFlag(F_PUNCT, behaviorOf(obj, ctx, 'Isolated'));
    case 'Split': return splitBy(compilePattern(ctx.get(obj, 'pattern', 'object'), ctx.at('pattern')), behaviorOf(obj, ctx, 'Isolated'),
      ctx.get(obj, 'invert', 'boolean', false));
    case 'ByteLevel': return byteLevel(ctx.get(obj, 'add_prefix_space', 'boolean', true), ctx.get(obj, 'use_regex', 'boolean', true));
    case 'Metaspace': {
      const replacement = ctx.get(obj, 'replacement', 'string', '\u2581');
      if (Array.from(replacement).length !== 1) throw ctx.at('replacement').error(`${JSON.stringify(replacement)} must be one character`);
      let scheme = ctx.get(obj, 'prepend_scheme', 'string', 'always');
      if (!SCHEMES.includes(scheme)) throw ctx.at('prepend_scheme').error(`"${scheme}" is not supported; supported: ${SCHEMES.join(', ')}`);
      if (ctx.get(obj, 'add_prefix_space', 'boolean', null, true) === false) {
        if (scheme !== 'never' && 'prepend_scheme' in obj) throw ctx.at('add_prefix_space').error(`false contradicts prepend_scheme "${scheme}"`);
        scheme = 'never';
      }
      return metaspace(replacement, scheme, ctx.get(obj, 'split', 'boolean', true));
    }
    case 'Digits': return byFlag(F_NUM, ctx.get(obj, 'individual_digits', 'boolean', false) ? 'Isolated' : 'Contiguous');
    default: {
      const items = ctx.get(obj, 'pretokenizers', 'array').map((x, i) => fromSpec(ctx.at('pretokenizers').at(i).obj(x), ctx.at('pretokenizers').at(i)));
      if (items.some((p) => p.transforms)) {
        return { transforms: true, pieces: (chars, pos, starts) => items.reduce((acc, p) => acc.flatMap(([w, ps]) => pieces(p, w, ps, starts)), [[chars, pos]]) };
      }
      return (chars, a, b, out) => {
        let spans = [a, b];
        for (const p of items) {
          const next = [];
          for (let k = 0; k < spans.length; k += 2) p(chars, spans[k], spans[k + 1], next);
          spans = next;
        }
        for (const x of spans) out.push(x);
      };
    }
  }
}
