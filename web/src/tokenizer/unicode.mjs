// Mirrors toolkit/runtime/tokenizer/_unicode.py (spec: toolkit/runtime/tokenizer/SPEC.md).
// Character classes as the reference has them: flags per code point (BMP array, astral ranges),
// Rust's per-character lowercase, canonical combining classes, BERT's CJK ranges, NFC composition.
import { TABLES } from './tables.mjs';

export const F_OTHER = 1, F_SPACE = 2, F_PUNCT = 4, F_WORD = 8, F_NUM = 16, F_COMB = 32, F_MN = 64, F_NFD = 128, F_NFKD = 256;
const TABLE_FLAGS = [['other', F_OTHER], ['space', F_SPACE], ['punct', F_PUNCT], ['word', F_WORD], ['num', F_NUM],
  ['comb', F_COMB], ['mn', F_MN], ['nfd', F_NFD], ['nfkd', F_NFKD]];
const BMP = new Uint16Array(0x10000); // flags for the BMP; astral code points go through ASTRAL ranges
const ASTRAL = []; // [flag, starts[], ends[]]
for (const [key, flag] of TABLE_FLAGS) {
  const starts = [], ends = [];
  for (const part of TABLES[key].split(' ')) {
    if (!part) continue;
    const [a, b] = part.split('-');
    const lo = parseInt(a, 16), hi = parseInt(b ?? a, 16);
    for (let cp = lo; cp <= Math.min(hi, 0xffff); cp++) BMP[cp] |= flag;
    if (hi > 0xffff) { starts.push(Math.max(lo, 0x10000)); ends.push(hi); }
  }
  ASTRAL.push([flag, starts, ends]);
}
const astralMemo = new Map();
export function flagsOf(cp) {
  if (cp < 0x10000) return BMP[cp];
  let f = astralMemo.get(cp);
  if (f !== undefined) return f;
  f = 0;
  for (const [flag, starts, ends] of ASTRAL) {
    let lo = 0, hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] > cp) hi = mid - 1;
      else if (ends[mid] < cp) lo = mid + 1;
      else { f |= flag; break; }
    }
  }
  if (astralMemo.size < 65536) astralMemo.set(cp, f);
  return f;
}
export const has = (c, flag) => (flagsOf(c.codePointAt(0)) & flag) !== 0;

export const LOWER = new Map(); // Rust char::to_lowercase, per character (no final-sigma rule)
for (const part of TABLES.lower.split(' ')) {
  const [s, n, step, delta] = part.split(':');
  const start = parseInt(s, 16);
  for (let k = 0; k < +n; k++) {
    const cp = start + k * +step;
    LOWER.set(String.fromCodePoint(cp), String.fromCodePoint(cp + +delta));
  }
}
for (const [cp, v] of Object.entries(TABLES.lower_multi)) LOWER.set(String.fromCodePoint(parseInt(cp, 16)), v);

export const CCC = new Map();
for (const part of TABLES.ccc.split(' ')) {
  const [r, k] = part.split(':');
  const [a, b] = r.split('-');
  for (let cp = parseInt(a, 16); cp <= parseInt(b, 16); cp++) CCC.set(String.fromCodePoint(cp), +k);
}
export const ccc = (c) => CCC.get(c) ?? 0;

// BertNormalizer's CJK ranges exactly as the reference has them, including its 0x2B920 start of
// Extension E (the Unicode block starts at 0x2B820; characters in between are not padded).
export function isChinese(c) {
  const cp = c.codePointAt(0);
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f);
}

const composeMemo = new Map();
export function composePair(a, b) {
  const key = a + '\u0000' + b;
  let r = composeMemo.get(key);
  if (r !== undefined) return r;
  const nfc = (a + b).normalize('NFC');
  const cps = Array.from(nfc);
  r = cps.length === 1 && has(nfc, F_NFD) && nfc.normalize('NFD') === (a + b).normalize('NFD') ? nfc : null;
  composeMemo.set(key, r);
  return r;
}

export function isAscii(chars) {
  for (const c of chars) if (c.charCodeAt(0) > 0x7f) return false;
  return true;
}
