// Mirrors toolkit/runtime/tokenizer/unigram.py: Viterbi over the scored pieces (a trie walk), a
// character no piece covers is unk scored (min score - 10), consecutive unknowns fuse into one
// token whose text is the original text; byte_fallback spells an unknown piece as <0xXX> tokens.
import { TokenizerSpecError } from './spec.mjs';

const encoder = new TextEncoder();
const UNK_PENALTY = 10;

export class Unigram {
  constructor(pieces, unkId, byteFallback) {
    this.pieces = pieces; this.unkId = unkId; this.byteFallback = byteFallback;
    this.vocab = new Map(); pieces.forEach(([p], i) => this.vocab.set(p, i)); // a repeated piece: the last id wins
    this.unkScore = (pieces.length ? Math.min(...pieces.map((p) => p[1])) : 0) - UNK_PENALTY;
    this.trie = new Map();
    for (const [p, id] of this.vocab) {
      if (!p) continue;
      let node = this.trie;
      for (const c of p) { let next = node.get(c); if (!next) { next = new Map(); node.set(c, next); } node = next; }
      node.id = id;
    }
    this.cache = new Map();
  }
  best(chars) {
    const n = chars.length, score = new Float64Array(n + 1), start = new Int32Array(n + 1).fill(-1), ident = new Int32Array(n + 1);
    for (let s = 0; s < n; s++) {
      const here = score[s];
      let node = this.trie, single = false;
      for (let k = s; k < n; k++) {
        node = node.get(chars[k]);
        if (!node) break;
        if (node.id !== undefined) {
          const cand = here + this.pieces[node.id][1];
          if (start[k + 1] < 0 || cand > score[k + 1]) { score[k + 1] = cand; start[k + 1] = s; ident[k + 1] = node.id; }
          if (k === s) single = true;
        }
      }
      if (!single) {
        if (this.unkId === null) throw new TokenizerSpecError(`Unigram: ${JSON.stringify(chars[s])} is not covered by model.vocab and model.unk_id is null; set unk_id`);
        const cand = here + this.unkScore;
        if (start[s + 1] < 0 || cand > score[s + 1]) { score[s + 1] = cand; start[s + 1] = s; ident[s + 1] = this.unkId; }
      }
    }
    const out = [];
    let e = n, unkEnd = -1;
    while (e > 0) {
      const s = start[e];
      if (ident[e] === this.unkId) { if (unkEnd < 0) unkEnd = e; }
      else {
        if (unkEnd >= 0) { out.push([e, unkEnd]); unkEnd = -1; }
        out.push([s, e]);
      }
      e = s;
    }
    if (unkEnd >= 0) out.push([0, unkEnd]);
    return out.reverse();
  }
  tokens(chars) {
    const key = chars.join('');
    const hit = this.cache.get(key);
    if (hit) return hit;
    const out = [];
    for (const [s, e] of this.best(chars)) {
      const piece = chars.slice(s, e).join('');
      let id = this.vocab.get(piece);
      if (id === undefined) {
        if (this.byteFallback) {
          const bytes = Array.from(encoder.encode(piece)), names = bytes.map((b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
          const ids = names.map((t) => this.vocab.get(t));
          if (!ids.includes(undefined)) { ids.forEach((b, k) => out.push([b, names[k], s, e])); continue; }
        }
        id = this.unkId;
      }
      out.push([id, piece, s, e]);
    }
    if (chars.length <= 256) {
      if (this.cache.size >= 10000) this.cache.clear();
      this.cache.set(key, out);
    }
    return out;
  }
  tokenize(chars, a, b, sink) {
    if (b <= a) return;
    for (const [id, t, s, e] of this.tokens(a === 0 && b === chars.length ? chars : chars.slice(a, b))) sink(id, t, a + s, a + e);
  }
}

export function unigramFromSpec(obj, ctx) {
  const pieces = ctx.get(obj, 'vocab', 'array').map((entry, k) => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
      throw ctx.at('vocab').at(k).error('expected [piece, score] (a string and a number)');
    }
    return [entry[0], entry[1]];
  });
  const unkId = ctx.get(obj, 'unk_id', 'int', null, true);
  if (unkId !== null && !(unkId >= 0 && unkId < pieces.length)) throw ctx.at('unk_id').error(`${unkId} is not an index of model.vocab (${pieces.length} pieces)`);
  return new Unigram(pieces, unkId, ctx.get(obj, 'byte_fallback', 'boolean', false, true) ?? false);
}
