// Mirrors toolkit/runtime/tokenizer/normalizers.py (spec: toolkit/runtime/tokenizer/SPEC.md).
// One factory, fromSpec, dispatches on the spec's `type`; unknown types are refused by name.
import { precompiledFromSpec } from './precompiled.mjs';
import { compilePattern, findSpans } from './regex.mjs';
import { CCC, F_COMB, F_MN, F_NFD, F_NFKD, F_OTHER, F_SPACE, LOWER, ccc, composePair, has, isAscii, isChinese } from './unicode.mjs';

const ASCII_LOWER = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i).toLowerCase());

export function lowercase(ns) {
  let multi = false, changed = false;
  const out = ns.chars.map((c) => {
    const u = c.charCodeAt(0);
    if (u < 128) {
      if (u >= 65 && u <= 90) { changed = true; return ASCII_LOWER[u]; }
      return c;
    }
    const m = LOWER.get(c);
    if (m === undefined) return c;
    changed = true;
    if (m.length > 2 || Array.from(m).length > 1) multi = true;
    return m;
  });
  if (!changed) return;
  if (!multi) { ns.chars = out; return; }
  const chars = [], changes = [];
  for (const m of out) Array.from(m).forEach((x, k) => { chars.push(x); changes.push(k ? 1 : 0); });
  ns.transform(chars, changes);
}

function decomposed(input, compat) {
  const chars = [], changes = [];
  const flag = compat ? F_NFKD : F_NFD;
  let marks = false;
  for (const c of input) {
    if (!has(c, flag)) {
      chars.push(c); changes.push(0);
      if (!marks && CCC.has(c)) marks = true;
      continue;
    }
    Array.from(c.normalize(compat ? 'NFKD' : 'NFD')).forEach((x, k) => {
      chars.push(x); changes.push(k ? 1 : 0);
      if (!marks && CCC.has(x)) marks = true;
    });
  }
  // canonical ordering: stable sort of each run of non-starters; changes travel with their chars
  for (let i = 0; marks && i < chars.length;) {
    if (ccc(chars[i]) === 0) { i++; continue; }
    let j = i;
    while (j < chars.length && ccc(chars[j]) !== 0) j++;
    if (j - i > 1) {
      const run = [];
      for (let k = i; k < j; k++) run.push([chars[k], changes[k], k]);
      run.sort((x, y) => ccc(x[0]) - ccc(y[0]) || x[2] - y[2]);
      run.forEach(([c, chg], k) => { chars[i + k] = c; changes[i + k] = chg; });
    }
    i = j;
  }
  return [chars, changes];
}

function composed([chars, changes]) {
  const outC = [], outG = [];
  let starter = -1, lastCcc = -1;
  for (let k = 0; k < chars.length; k++) {
    const c = chars[k], chg = changes[k], cc = ccc(c);
    if (starter >= 0 && (lastCcc === -1 || lastCcc < cc)) {
      const comp = composePair(outC[starter], c);
      if (comp !== null) { outC[starter] = comp; outG[starter] += chg - 1; continue; }
    }
    if (cc === 0) { starter = outC.length; lastCcc = -1; } else lastCcc = cc;
    outC.push(c); outG.push(chg);
  }
  return [outC, outG];
}

export function unicodeNormalize(ns, form) {
  if (isAscii(ns.chars)) return;
  const text = ns.text();
  if (text.normalize(form) === text) return; // host says already normalized (a superset of the reference's forms)
  let seq = decomposed(ns.chars, form === 'NFKD' || form === 'NFKC');
  if (form === 'NFC' || form === 'NFKC') seq = composed(seq);
  ns.transform(seq[0], seq[1]);
}

class BertNormalizer {
  constructor(cleanText, chinese, stripAccents, lower) {
    this.cleanText = cleanText; this.chinese = chinese; this.lower = lower;
    this.stripAccents = stripAccents === null ? lower : stripAccents; // null: follow lowercase
  }
  normalize(ns) {
    if (this.cleanText) {
      ns.filter((c) => !has(c, F_OTHER));
      const chars = ns.chars;
      for (let i = 0; i < chars.length; i++) if (chars[i] !== ' ' && has(chars[i], F_SPACE)) chars[i] = ' ';
    }
    if (this.chinese && !isAscii(ns.chars) && ns.chars.some(isChinese)) {
      const chars = [], changes = [];
      for (const c of ns.chars) {
        if (isChinese(c)) { chars.push(' ', c, ' '); changes.push(0, 1, 1); } else { chars.push(c); changes.push(0); }
      }
      ns.transform(chars, changes);
    }
    if (this.stripAccents && !isAscii(ns.chars)) {
      unicodeNormalize(ns, 'NFD');
      ns.filter((c) => !has(c, F_MN));
    }
    if (this.lower) lowercase(ns);
  }
}

export const SUPPORTED = Object.freeze(['BertNormalizer', 'Lowercase', 'NFC', 'NFD', 'NFKC', 'NFKD', 'StripAccents', 'Strip', 'Replace',
  'Prepend', 'Nmt', 'Precompiled', 'Sequence']);

// Replace with a translated Oniguruma regex; inserted characters take the last replaced span.
function regexReplace(re, content) {
  const rep = Array.from(content);
  return {
    normalize(ns) {
      const spans = findSpans(re, ns.chars).filter(([s, e]) => e > s); // an empty match replaces nothing
      if (!spans.length) return;
      const chars = [], starts = [], ends = [];
      let last = 0;
      for (const [s, e] of spans) {
        for (let k = last; k < s; k++) { chars.push(ns.chars[k]); starts.push(ns.starts[k]); ends.push(ns.ends[k]); }
        for (const c of rep) { chars.push(c); starts.push(ns.starts[e - 1]); ends.push(ns.ends[e - 1]); }
        last = e;
      }
      for (let k = last; k < ns.length; k++) { chars.push(ns.chars[k]); starts.push(ns.starts[k]); ends.push(ns.ends[k]); }
      ns.chars = chars; ns.starts = starts; ns.ends = ends;
    },
  };
}

const NMT_REMOVE = (cp) => (cp >= 1 && cp <= 8) || cp === 0xb || (cp >= 0xe && cp <= 0x1f) || cp === 0x7f || cp === 0x8f || cp === 0x9f;
const NMT_SPACE = new Set([0x9, 0xa, 0xc, 0xd, 0x1680, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2028, 0x2029, 0x2581, 0xfeff, 0xfffd]);

export function fromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  const t = ctx.typeOf(obj, SUPPORTED);
  switch (t) {
    case 'BertNormalizer':
      return new BertNormalizer(ctx.get(obj, 'clean_text', 'boolean', true), ctx.get(obj, 'handle_chinese_chars', 'boolean', true),
        ctx.get(obj, 'strip_accents', 'boolean', null, true), ctx.get(obj, 'lowercase', 'boolean', true));
    case 'Lowercase': return { normalize: lowercase };
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': return { normalize: (ns) => unicodeNormalize(ns, t) };
    case 'StripAccents': return { normalize: (ns) => { if (!isAscii(ns.chars)) ns.filter((c) => !has(c, F_COMB)); } };
    case 'Strip': {
      const left = ctx.get(obj, 'strip_left', 'boolean', true), right = ctx.get(obj, 'strip_right', 'boolean', true);
      return {
        normalize(ns) {
          let a = 0, b = ns.length;
          if (left) while (a < b && has(ns.chars[a], F_SPACE)) a++;
          if (right) while (b > a && has(ns.chars[b - 1], F_SPACE)) b--;
          if (a !== 0 || b !== ns.length) { const s = ns.slice(a, b); ns.chars = s.chars; ns.starts = s.starts; ns.ends = s.ends; }
        },
      };
    }
    case 'Replace': {
      const pat = ctx.get(obj, 'pattern', 'object');
      const pctx = ctx.at('pattern');
      const content = ctx.get(obj, 'content', 'string');
      if ('String' in pat) {
        const pattern = pctx.get(pat, 'String', 'string');
        return { normalize: (ns) => ns.replace(pattern, content) };
      }
      return regexReplace(compilePattern(pat, pctx), content);
    }
    case 'Prepend': {
      const prepend = Array.from(ctx.get(obj, 'prepend', 'string'));
      return {
        normalize(ns) { // every inserted character and the first one keep the first character's span
          if (!ns.length || !prepend.length) return;
          ns.transform([...prepend, ...ns.chars], [...prepend.map((_, k) => (k ? 1 : 0)), 1, ...Array(ns.length - 1).fill(0)]);
        },
      };
    }
    case 'Nmt': return {
      normalize(ns) {
        ns.filter((c) => !NMT_REMOVE(c.codePointAt(0)));
        ns.chars = ns.chars.map((c) => (NMT_SPACE.has(c.codePointAt(0)) ? ' ' : c));
      },
    };
    case 'Precompiled': return precompiledFromSpec(obj, ctx);
    default: {
      const items = ctx.get(obj, 'normalizers', 'array').map((x, i) => fromSpec(ctx.at('normalizers').at(i).obj(x), ctx.at('normalizers').at(i)));
      return { normalize: (ns) => { for (const n of items) n.normalize(ns); } };
    }
  }
}
