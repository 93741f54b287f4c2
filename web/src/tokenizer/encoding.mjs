// Mirrors toolkit/runtime/tokenizer/encoding.py (spec: toolkit/runtime/tokenizer/SPEC.md).

export const FIELDS = ['ids', 'typeIds', 'tokens', 'offsets', 'codePointOffsets', 'attentionMask', 'specialTokensMask'];

export class Encoding {
  constructor(init = {}) {
    for (const f of FIELDS) this[f] = init[f] ?? [];
  }
  get length() { return this.ids.length; }
  /** The CLI / golden-file form (snake_case keys, code-point offsets like the reference). */
  toJSON() {
    return {
      ids: this.ids, attention_mask: this.attentionMask, token_type_ids: this.typeIds,
      special_tokens_mask: this.specialTokensMask, tokens: this.tokens, offsets: this.codePointOffsets,
    };
  }
  extend(other) {
    for (const f of FIELDS) {
      const dst = this[f], src = other[f];
      for (let k = 0; k < src.length; k++) dst.push(src[k]);
    }
  }
  truncate(maxLen, direction) {
    if (this.ids.length <= maxLen) return;
    for (const f of FIELDS) this[f] = direction === 'Right' ? this[f].slice(0, maxLen) : maxLen ? this[f].slice(this[f].length - maxLen) : [];
  }
  pad(length, padId, padTypeId, padToken, direction) {
    const n = length - this.ids.length;
    if (n <= 0) return;
    const fill = { ids: padId, typeIds: padTypeId, tokens: padToken, attentionMask: 0, specialTokensMask: 1 };
    for (const f of FIELDS) {
      const add = Array.from({ length: n }, () => (f in fill ? fill[f] : [0, 0]));
      this[f] = direction === 'Right' ? this[f].concat(add) : add.concat(this[f]);
    }
  }
}
