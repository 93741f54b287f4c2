// Mirrors toolkit/runtime/tokenizer/bpe.py: characters (prefix, suffix, byte fallback, unk), then the
// lowest-ranked pair merged first, leftmost on ties, until none merges. Offsets are code points in
// the word; a byte token covers the whole character it is a byte of (as the reference reports it).
import { TokenizerSpecError } from './spec.mjs';

const encoder = new TextEncoder();
// A pair of ids as one number (exact below 2**53): ids stay far below 2**26 in any real vocabulary.
const KEY = 2 ** 26;
const BYTE_TOKENS = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

class MinHeap { // entries [rank, pos, newId]
  constructor() { this.a = []; }
  less(x, y) { return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]); }
  push(x) {
    const a = this.a; a.push(x);
    let i = a.length - 1;
    while (i > 0) { const p = (i - 1) >> 1; if (!this.less(a[i], a[p])) break; [a[i], a[p]] = [a[p], a[i]]; i = p; }
  }
  pop() {
    const a = this.a, top = a[0], last = a.pop();
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]]; i = m;
      }
    }
    return top;
  }
  get size() { return this.a.length; }
}

export class BPE {
  static CACHE_SIZE = 10000;
  static CACHE_WORD = 256;
  constructor(vocab, merges, { unkToken = null, prefix = null, suffix = null, fuseUnk = false, byteFallback = false, ignoreMerges = false } = {}) {
    this.vocab = vocab; this.merges = merges; // "left right" ids key -> [rank, merged id]
    this.unkToken = unkToken; this.prefix = prefix; this.suffix = suffix;
    this.fuseUnk = fuseUnk; this.byteFallback = byteFallback; this.ignoreMerges = ignoreMerges;
    this.inverse = new Map(); for (const [t, i] of vocab) this.inverse.set(i, t);
    this.cache = new Map();
  }
  unkId() {
    const id = this.vocab.get(this.unkToken);
    if (id === undefined) throw new TokenizerSpecError(`BPE: unk_token ${JSON.stringify(this.unkToken)} is not in model.vocab; add it`);
    return id;
  }
  symbols(chars) {
    const out = [];
    let unk = null;
    const last = chars.length - 1;
    for (let k = 0; k < chars.length; k++) {
      let s = chars[k];
      if (k && this.prefix !== null) s = this.prefix + s;
      if (k === last && this.suffix !== null) s += this.suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        if (unk) { out.push(unk); unk = null; }
        out.push([id, k, k + 1]);
        continue;
      }
      if (this.byteFallback) {
        const ids = Array.from(encoder.encode(s), (b) => this.vocab.get(BYTE_TOKENS[b]));
        if (!ids.includes(undefined)) { for (const b of ids) out.push([b, k, k + 1]); continue; }
      }
      if (this.unkToken === null) continue;
      if (unk && this.fuseUnk) unk[2] = k + 1;
      else { if (unk) out.push(unk); unk = [this.unkId(), k, k + 1]; }
    }
    if (unk) out.push(unk);
    return out;
  }
  merge(chars) {
    if (this.ignoreMerges) {
      const id = this.vocab.get(chars.join(''));
      if (id !== undefined) return [[id, 0, chars.length]];
    }
    const sym = this.symbols(chars), n = sym.length;
    if (n < 2) return sym;
    const ids = sym.map((s) => s[0]), starts = sym.map((s) => s[1]), ends = sym.map((s) => s[2]);
    const next = Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1)), prev = Array.from({ length: n }, (_, i) => i - 1);
    const alive = new Uint8Array(n).fill(1), merges = this.merges, heap = new MinHeap();
    const get = (a, b) => merges.get(a * KEY + b);
    for (let p = 0; p + 1 < n; p++) { const m = get(ids[p], ids[p + 1]); if (m) heap.push([m[0], p, m[1]]); }
    while (heap.size) {
      const [, p, newId] = heap.pop();
      if (!alive[p]) continue;
      const q = next[p];
      if (q < 0) continue;
      const m = get(ids[p], ids[q]);
      if (!m || m[1] !== newId) continue;
      ids[p] = newId; ends[p] = ends[q]; alive[q] = 0;
      const r = next[q];
      next[p] = r;
      if (r >= 0) prev[r] = p;
      const a = prev[p];
      if (a >= 0) { const x = get(ids[a], newId); if (x) heap.push([x[0], a, x[1]]); }
      if (r >= 0) { const x = get(newId, ids[r]); if (x) heap.push([x[0], p, x[1]]); }
    }
    const out = [];
    for (let p = 0; p >= 0; p = next[p]) out.push([ids[p], starts[p], ends[p]]);
    return out;
  }
  tokenize(chars, a, b, sink) {
    if (b <= a) return;
    const word = a === 0 && b === chars.length ? chars : chars.slice(a, b);
    const key = word.join('');
    let got = this.cache.get(key);
    if (!got) {
      got = this.merge(word);
      if (word.length <= BPE.CACHE_WORD) {
        if (this.cache.size >= BPE.CACHE_SIZE) this.cache.clear();
        this.cache.set(key, got);
      }
    }
    for (const [id, s, e] of got) sink(id, this.inverse.get(id), a + s, a + e);
  }
}

export function bpeFromSpec(obj, ctx, vocab) {
  const dropout = ctx.get(obj, 'dropout', 'number', null, true);
  if (dropout !== null && dropout !== 0) throw ctx.at('dropout').error('must be null: dropout makes encoding random (it is for training)');
  const prefix = ctx.get(obj, 'continuing_subword_prefix', 'string', null, true);
  const cut = prefix ? Array.from(prefix).length : 0;
  const merges = new Map();
  for (const [t, id] of vocab) if (id >= KEY) throw ctx.at('vocab').error(`id of ${JSON.stringify(t)} is ${id}; BPE ids must be below ${KEY}`);
  ctx.get(obj, 'merges', 'array', []).forEach((m, rank) => {
    const c = ctx.at('merges').at(rank);
    let parts;
    if (typeof m === 'string') parts = m.split(' ');
    else if (Array.isArray(m) && m.every((x) => typeof x === 'string')) parts = m;
    else throw c.error('expected "left right" or ["left", "right"]');
    if (parts.length !== 2) throw c.error(`${JSON.stringify(m)} must have exactly two parts`);
    const [x, y] = parts, merged = x + Array.from(y).slice(cut).join('');
    for (const t of [x, y, merged]) if (!vocab.has(t)) throw c.error(`${JSON.stringify(t)} is not in model.vocab; every merge's parts and result must be`);
    merges.set(vocab.get(x) * KEY + vocab.get(y), [rank, vocab.get(merged)]); // a repeated pair: the last wins
  });
  const flag = (key) => ctx.get(obj, key, 'boolean', false, true) ?? false;
  return new BPE(vocab, merges, { unkToken: ctx.get(obj, 'unk_token', 'string', null, true), prefix,
    suffix: ctx.get(obj, 'end_of_word_suffix', 'string', null, true), fuseUnk: flag('fuse_unk'), byteFallback: flag('byte_fallback'),
    ignoreMerges: flag('ignore_merges') });
}
