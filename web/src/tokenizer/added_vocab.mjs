// Mirrors toolkit/runtime/tokenizer/added_vocab.py (spec: toolkit/runtime/tokenizer/SPEC.md).
import { NormalizedString } from './normalized.mjs';
import { F_SPACE, F_WORD, has } from './unicode.mjs';

export class AddedVocabulary {
  constructor(tokens, normalizer) {
    this.tokens = tokens;
    this.byContent = new Map(tokens.map((t) => [t.content, t]));
    this.byId = new Map(tokens.map((t) => [t.id, t]));
    this.special = new Set(tokens.filter((t) => t.special).map((t) => t.content));
    this.raw = new Map(); this.norm = new Map();
    for (const t of tokens) {
      if (!t.content) continue;
      if (!t.normalized) { this.raw.set(t.content, t); continue; }
      const ns = NormalizedString.fromChars(Array.from(t.content));
      if (normalizer) normalizer.normalize(ns);
      const key = ns.text();
      if (key && !this.norm.has(key)) this.norm.set(key, t);
    }
    // leftmost-longest matching: candidates per first code point, longest first
    this.rawIndex = AddedVocabulary.index(this.raw);
    this.normIndex = AddedVocabulary.index(this.norm);
  }
  static index(map) {
    const idx = new Map();
    for (const [content, tok] of map) {
      const cps = Array.from(content);
      if (!idx.has(cps[0])) idx.set(cps[0], []);
      idx.get(cps[0]).push([cps, tok]);
    }
    for (const list of idx.values()) list.sort((x, y) => y[0].length - x[0].length || (x[0].join('') < y[0].join('') ? -1 : 1));
    return idx;
  }
  split(ns, normalized) {
    const index = normalized ? this.normIndex : this.rawIndex;
    const chars = ns.chars, n = chars.length;
    if (!index.size || !n) return [[ns, null]];
    const out = [];
    let startOffset = 0, i = 0;
    while (i < n) {
      const cands = index.get(chars[i]);
      let hit = null;
      if (cands) {
        for (const [cps, tok] of cands) {
          if (i + cps.length > n) continue;
          let ok = true;
          for (let k = 1; k < cps.length && ok; k++) if (chars[i + k] !== cps[k]) ok = false;
          if (ok) { hit = [cps.length, tok]; break; }
        }
      }
      if (!hit) { i++; continue; }
      let start = i, stop = i + hit[0];
      const tok = hit[1];
      i = stop; // the matcher resumes after the raw match, as the reference's does
      if (tok.single_word) {
        const before = start === 0 || !has(chars[start - 1], F_WORD);
        const after = stop === n || !has(chars[stop], F_WORD);
        if (!(before && after)) continue;
      }
      if (tok.lstrip) {
        let s = start;
        while (s > 0 && has(chars[s - 1], F_SPACE)) s--;
        start = Math.max(s, startOffset);
      }
      if (tok.rstrip) while (stop < n && has(chars[stop], F_SPACE)) stop++;
      if (startOffset < start) out.push([ns.slice(startOffset, start), null]);
      out.push([ns.slice(start, stop), tok]);
      startOffset = stop;
    }
    if (startOffset !== n) out.push([ns.slice(startOffset, n), null]);
    return out;
  }
}

export function fromSpec(items, ctx, normalizer) {
  return new AddedVocabulary((items ?? []).map((obj, i) => {
    const c = ctx.at(i);
    obj = c.obj(obj);
    return { id: c.get(obj, 'id', 'int'), content: c.get(obj, 'content', 'string'), single_word: c.get(obj, 'single_word', 'boolean', false),
      lstrip: c.get(obj, 'lstrip', 'boolean', false), rstrip: c.get(obj, 'rstrip', 'boolean', false),
      normalized: c.get(obj, 'normalized', 'boolean', true), special: c.get(obj, 'special', 'boolean', false) };
  }), normalizer);
}
