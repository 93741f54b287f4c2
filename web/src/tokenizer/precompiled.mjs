// Mirrors toolkit/runtime/tokenizer/precompiled.py: SentencePiece's compiled normalization rules.
// [u32 trie size][double-array trie][NUL-terminated replacements]; grapheme clusters under 6 UTF-8
// bytes are replaced whole by the SHORTEST matching key's replacement (the reference's quirk),
// anything else character by character.
import { ranges } from './regex.mjs';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');
const PREPEND = new Set([0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x6dd, 0x70f, 0x890, 0x891, 0x8e2, 0xd4e]);

function classSet(names) {
  const rs = names.flatMap((n) => ranges(n)).sort((x, y) => x[0] - y[0]);
  const starts = rs.map((r) => r[0]), ends = rs.map((r) => r[1]);
  return (cp) => {
    let lo = 0, hi = starts.length - 1, i = -1;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (starts[mid] <= cp) { i = mid; lo = mid + 1; } else hi = mid - 1; }
    return i >= 0 && cp <= ends[i];
  };
}
let isMark = null, isControlClass = null;
// Grapheme_Cluster_Break Extend / SpacingMark outside the M classes (halfwidth kana voiced marks,
// skin-tone modifiers, tag characters, Thai/Lao SARA AM): the same set as precompiled.py.
const EXTEND_NOT_M = (cp) => cp === 0xff9e || cp === 0xff9f || (cp >= 0x1f3fb && cp <= 0x1f3ff)
  || (cp >= 0xe0020 && cp <= 0xe007f) || cp === 0x0e33 || cp === 0x0eb3;
const extendsCluster = (c) => c === '\u200c' || c === '\u200d' || EXTEND_NOT_M(c.codePointAt(0)) || isMark(c.codePointAt(0));
const isControl = (c) => c !== '\u200c' && c !== '\u200d' && isControlClass(c.codePointAt(0))
  && !PREPEND.has(c.codePointAt(0)) && !EXTEND_NOT_M(c.codePointAt(0));

export function graphemes(chars) {
  if (!isMark) { isMark = classSet(['M']); isControlClass = classSet(['Cc', 'Cf', 'Zl', 'Zp']); }
  const out = [];
  const n = chars.length;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    const c = chars[i];
    if (c === '\r') { if (j < n && chars[j] === '\n') j++; }
    else if (!isControl(c)) {
      while (PREPEND.has(chars[j - 1].codePointAt(0)) && j < n && !isControl(chars[j]) && chars[j] !== '\r' && chars[j] !== '\n') j++;
      while (j < n && extendsCluster(chars[j])) j++;
    }
    out.push(chars.slice(i, j));
    i = j;
  }
  return out;
}

export class Precompiled {
  constructor(units, pool) { this.units = units; this.pool = pool; this.memo = new Map(); }
  prefixValues(key) {
    const u0 = this.units, n = u0.length, out = [];
    let pos = 0, u = u0[0];
    pos ^= (u >>> 10) << ((u & (1 << 9)) >>> 6);
    for (const c of key) {
      if (c === 0) break;
      pos ^= c;
      if (pos >= n) break;
      u = u0[pos];
      if (((u & 0x800000ff) >>> 0) !== c) break;
      pos ^= (u >>> 10) << ((u & (1 << 9)) >>> 6);
      if ((u >>> 8) & 1) { if (pos >= n) break; out.push(u0[pos] & 0x7fffffff); }
    }
    return out;
  }
  transform(chunk) {
    if (this.memo.has(chunk)) return this.memo.get(chunk);
    const values = this.prefixValues(encoder.encode(chunk));
    let got = null;
    if (values.length) {
      const start = values[0];
      let end = this.pool.indexOf(0, start);
      if (end < 0) end = this.pool.length;
      got = decoder.decode(this.pool.subarray(start, end));
    }
    if (this.memo.size < 65536) this.memo.set(chunk, got);
    return got;
  }
  /** [chars, changes] as the reference's transformations, or null when nothing changes. */
  changes(input) {
    const chars = [], changes = [];
    let modified = false;
    const replace = (oldLen, norm) => {
      const add = Array.from(norm);
      for (const c of add) { chars.push(c); changes.push(0); }
      const diff = add.length - oldLen;
      if (diff > 0) for (let k = changes.length - diff; k < changes.length; k++) changes[k] = 1;
      else if (diff < 0 && changes.length) changes[changes.length - 1] += diff; // lands on the character before, as in the reference
    };
    for (const g of graphemes(input)) {
      if (g.length > 1) {
        const text = g.join('');
        if (encoder.encode(text).length < 6) {
          const norm = this.transform(text);
          if (norm !== null) { modified = true; replace(g.length, norm); continue; }
        }
      }
      for (const c of g) {
        const norm = this.transform(c);
        if (norm !== null) { modified = true; replace(1, norm); } else { chars.push(c); changes.push(0); }
      }
    }
    return modified ? [chars, changes] : null;
  }
  normalize(ns) {
    const got = this.changes(ns.chars);
    if (got) ns.transform(got[0], got[1]);
  }
}

export function precompiledFromSpec(obj, ctx) {
  const c = ctx.at('precompiled_charsmap');
  const raw = ctx.get(obj, 'precompiled_charsmap', 'string', null, true);
  if (!raw) throw c.error('is empty; a Precompiled normalizer needs the charsmap its SentencePiece model carries');
  let bin;
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(raw) || raw.length % 4) throw new Error('bad');
    bin = atob(raw);
  } catch { throw c.error('is not valid base64'); }
  const data = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  if (data.length < 4) throw c.error('is too short to hold a trie');
  const view = new DataView(data.buffer);
  const size = view.getUint32(0, true);
  if (size % 4 || size === 0 || 4 + size > data.length) throw c.error(`declares a trie of ${size} bytes in ${data.length - 4} bytes of data; the charsmap is corrupt`);
  const units = new Uint32Array(size / 4);
  for (let k = 0; k < units.length; k++) units[k] = view.getUint32(4 + 4 * k, true);
  return new Precompiled(units, data.subarray(4 + size));
}
