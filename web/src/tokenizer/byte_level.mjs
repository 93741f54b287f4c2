// Mirrors toolkit/runtime/tokenizer/byte_level.py: GPT-2's byte <-> character table, the ByteLevel
// pre-tokenizer (words with a position map), its decoder and the offset trimming of its post-processor.
import { findSpans, translate } from './regex.mjs';
import { F_SPACE, flagsOf } from './unicode.mjs';

export const BYTE_CHARS = (() => {
  const keep = [];
  for (let b = 0x21; b < 0x7f; b++) keep.push(b);
  for (let b = 0xa1; b < 0xad; b++) keep.push(b);
  for (let b = 0xae; b < 0x100; b++) keep.push(b);
  const table = new Array(256);
  for (const b of keep) table[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCodePoint(256 + n++);
  return table;
})();
export const CHAR_BYTES = new Map(BYTE_CHARS.map((c, b) => [c, b]));
export const SPACE = BYTE_CHARS[0x20]; // 'Ġ'
const encoder = new TextEncoder();

export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
let gpt2 = null;
const gpt2Regex = () => gpt2 ?? (gpt2 = new RegExp(translate(GPT2_PATTERN, { error: (m) => new Error(m), at() { return this; } }), 'gu'));

/** chars (code points) -> [byte chars, position of each]; pos[k] of chars[k] given. */
function spell(chars, pos) {
  const out = [], outPos = [];
  for (let k = 0; k < chars.length; k++) {
    const c = chars[k], cp = c.codePointAt(0);
    if (cp < 0x80) { out.push(BYTE_CHARS[cp]); outPos.push(pos[k]); continue; }
    for (const b of encoder.encode(c)) { out.push(BYTE_CHARS[b]); outPos.push(pos[k]); }
  }
  return [out, outPos];
}

export function byteLevel(addPrefixSpace, useRegex) {
  const pieces = (chars, pos) => {
    if (addPrefixSpace && chars.length && chars[0] !== ' ') { chars = [' ', ...chars]; pos = [pos[0], ...pos]; }
    if (!chars.length) return [];
    const spans = useRegex ? findSpans(gpt2Regex(), chars).filter(([s, e]) => e > s) : [[0, chars.length]];
    return spans.map(([s, e]) => spell(chars.slice(s, e), pos.slice(s, e)));
  };
  return { transforms: true, pieces };
}

export function decodeByteLevel(tokens) {
  const bytes = [];
  for (const t of tokens) {
    const cs = Array.from(t), bs = cs.map((c) => CHAR_BYTES.get(c));
    if (bs.includes(undefined)) bytes.push(...encoder.encode(t)); else bytes.push(...bs);
  }
  return [new TextDecoder('utf-8').decode(new Uint8Array(bytes))];
}

const isSpace = (c) => c === SPACE || (flagsOf(c.codePointAt(0)) & F_SPACE) !== 0;

/** The reference's process_offsets on code-point offsets [[s, e], ...], in place. */
export function trimOffsets(tokens, offsets, addPrefixSpace) {
  for (let k = 0; k < tokens.length; k++) {
    const cs = Array.from(tokens[k]);
    if (!cs.length || (!isSpace(cs[0]) && !isSpace(cs[cs.length - 1]))) continue;
    let lead = 0, trail = 0;
    while (lead < cs.length && isSpace(cs[lead])) lead++;
    while (trail < cs.length && isSpace(cs[cs.length - 1 - trail])) trail++;
    let [s, e] = offsets[k];
    if (lead) {
      if ((k === 0 || s === 0) && addPrefixSpace && lead === 1) lead = 0;
      s = Math.min(s + lead, e);
    }
    if (trail && e >= trail) e = Math.max(e - trail, s);
    offsets[k] = [s, e];
  }
}
