// Mirrors toolkit/runtime/tokenizer/tokenizer.py (spec: toolkit/runtime/tokenizer/SPEC.md).
// The pipeline: added tokens, normalizer, pre-tokenizer, model, post-processor, truncation, padding.
import * as addedVocab from './added_vocab.mjs';
import * as decoders from './decoders.mjs';
import { Encoding } from './encoding.mjs';
import * as models from './models.mjs';
import { NormalizedString } from './normalized.mjs';
import * as normalizers from './normalizers.mjs';
import * as preTokenizers from './pre_tokenizers.mjs';
import {
  DIRECTIONS, STRATEGIES, concatDefault, fromSpec as postProcessorFromSpec, padBatch, paddingFromSpec, truncate, truncationFromSpec,
} from './processors.mjs';
import { Ctx, TokenizerSpecError } from './spec.mjs';

export const SUPPORTED_VERSIONS = Object.freeze(['1.0']);

/** Code points of `text`, lone surrogates replaced by U+FFFD (as TextEncoder does; one unit for one). */
function codePoints(text) {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
  const chars = Array.from(text);
  for (let i = 0; i < chars.length; i++) {
    const u = chars[i].charCodeAt(0);
    if (u >= 0xd800 && u <= 0xdfff && chars[i].length === 1) chars[i] = '\ufffd';
  }
  return chars;
}

function utf16Offsets(chars, offsets) {
  let astral = false;
  for (const c of chars) if (c.length > 1) { astral = true; break; }
  if (!astral) return offsets.map((o) => [o[0], o[1]]);
  const prefix = new Array(chars.length + 1);
  prefix[0] = 0;
  for (let i = 0; i < chars.length; i++) prefix[i + 1] = prefix[i] + chars[i].length;
  return offsets.map(([s, e]) => [prefix[s], prefix[e]]);
}

const capitalize = (s) => String(s).charAt(0).toUpperCase() + String(s).slice(1).toLowerCase();

export class Tokenizer {
  constructor(spec, source = 'tokenizer.json') {
    const ctx = new Ctx(source);
    spec = ctx.obj(spec);
    if (!SUPPORTED_VERSIONS.includes(spec.version)) {
      if (!('version' in spec)) throw ctx.at('version').error('is missing; supported: "1.0"');
      const shown = typeof spec.version === 'string' ? `"${spec.version}"` : JSON.stringify(spec.version);
      throw ctx.at('version').error(`${shown} is not supported; supported: "1.0"`);
    }
    this.normalizer = normalizers.fromSpec(spec.normalizer, ctx.at('normalizer'));
    this.preTokenizer = preTokenizers.fromSpec(spec.pre_tokenizer, ctx.at('pre_tokenizer'));
    if (!('model' in spec)) throw ctx.at('model').error('is required');
    this.model = models.fromSpec(spec.model, ctx.at('model'));
    this.postProcessor = postProcessorFromSpec(spec.post_processor, ctx.at('post_processor'));
    this.decoder = decoders.fromSpec(spec.decoder, ctx.at('decoder'));
    this.added = addedVocab.fromSpec(ctx.get(spec, 'added_tokens', 'array', [], true), ctx.at('added_tokens'), this.normalizer);
    this._truncation = truncationFromSpec(spec.truncation, ctx.at('truncation'));
    this._padding = paddingFromSpec(spec.padding, ctx.at('padding'));
    if (this._truncation) this._checkStride(this._truncation, ctx.at('truncation'));
    this.inverse = new Map();
    for (const [k, v] of this.model.vocab) this.inverse.set(v, k);
  }

  static fromJSON(obj, source = 'tokenizer.json') { return new Tokenizer(obj, source); }

  static fromString(text, source = 'tokenizer.json') {
    let obj;
    try {
      obj = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (err) {
      throw new TokenizerSpecError(`${source}: not valid JSON (${err.message})`);
    }
    return new Tokenizer(obj, source);
  }

  /** Bytes of a tokenizer.json (Uint8Array / ArrayBuffer): invalid UTF-8 is refused, not replaced. */
  static fromBytes(bytes, source = 'tokenizer.json') {
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new TokenizerSpecError(`${source}: not valid UTF-8; tokenizer.json must be UTF-8 encoded JSON`);
    }
    return Tokenizer.fromString(text, source);
  }

  get padding() { return this._padding ? { ...this._padding } : null; }
  get truncation() { return this._truncation ? { ...this._truncation } : null; }

  enablePadding({ direction = 'right', padId = 0, padTypeId = 0, padToken = '[PAD]', length = null, padToMultipleOf = null } = {}) {
    const dir = capitalize(direction);
    if (!DIRECTIONS.includes(dir)) throw new TokenizerSpecError(`enablePadding: direction ${JSON.stringify(direction)} is not supported; use 'right' or 'left'`);
    this._padding = { strategy: length === null || length === undefined ? 'BatchLongest' : { Fixed: length }, direction: dir,
      pad_to_multiple_of: padToMultipleOf, pad_id: padId, pad_type_id: padTypeId, pad_token: padToken };
  }

  noPadding() { this._padding = null; }

  enableTruncation(maxLength, { stride = 0, strategy = 'longest_first', direction = 'right' } = {}) {
    const byName = Object.fromEntries(Object.entries(STRATEGIES).map(([k, v]) => [v, k]));
    const s = byName[strategy] ?? strategy;
    if (!(s in STRATEGIES)) throw new TokenizerSpecError(`enableTruncation: strategy ${JSON.stringify(strategy)} is not supported; use longest_first, only_first or only_second`);
    const dir = capitalize(direction);
    if (!DIRECTIONS.includes(dir)) throw new TokenizerSpecError(`enableTruncation: direction ${JSON.stringify(direction)} is not supported; use 'right' or 'left'`);
    const params = { direction: dir, max_length: maxLength, strategy: s, stride };
    this._checkStride(params, new Ctx('enableTruncation'));
    this._truncation = params;
  }

  noTruncation() { this._truncation = null; }

  _checkStride(params, ctx) {
    const added = this.postProcessor ? this.postProcessor.addedTokens(false) : 0;
    if (params.max_length - added < params.stride) {
      throw ctx.error(`stride ${params.stride} is greater than the effective max length ${params.max_length - added} (max_length - ${added} special tokens)`);
    }
  }

  tokenToId(token) {
    const t = this.added.byContent.get(token);
    return t ? t.id : this.model.vocab.get(token) ?? null;
  }

  idToToken(id) {
    const t = this.added.byId.get(id);
    return t ? t.content : this.inverse.get(id) ?? null;
  }

  getVocab(withAddedTokens = true) {
    const v = Object.fromEntries(this.model.vocab);
    if (withAddedTokens) for (const t of this.added.tokens) v[t.content] = t.id;
    return v;
  }

  getVocabSize(withAddedTokens = true) { return Object.keys(this.getVocab(withAddedTokens)).length; }

  _encodeSequence(text, typeId) {
    const chars = codePoints(text);
    const ids = [], tokens = [], offsets = [];
    const push = (id, token, span) => { ids.push(id); tokens.push(token); offsets.push(span); };
    for (const [piece, tok] of this.added.split(NormalizedString.fromChars(chars), false)) {
      if (tok) { push(tok.id, piece.text(), piece.span(0, piece.length)); continue; }
      if (this.normalizer) this.normalizer.normalize(piece);
      if (!piece.length) continue;
      for (const [sub, tok2] of this.added.split(piece, true)) {
        if (!sub.length) continue;
        if (tok2) { push(tok2.id, sub.text(), sub.span(0, sub.length)); continue; }
        if (this.preTokenizer && this.preTokenizer.transforms) { // ByteLevel / Metaspace: words map their characters back
          const pos = Array.from({ length: sub.length }, (_, k) => k);
          for (const [word, wpos] of preTokenizers.pieces(this.preTokenizer, sub.chars, pos, sub.starts)) {
            this.model.tokenize(word, 0, word.length, (id, token, s, e) => push(id, token, [sub.starts[wpos[s]], sub.ends[wpos[e - 1]]]));
          }
          continue;
        }
        const spans = [];
        if (this.preTokenizer) this.preTokenizer(sub.chars, 0, sub.length, spans); else spans.push(0, sub.length);
        const sink = (id, token, s, e) => push(id, token, [sub.starts[s], sub.ends[e - 1]]);
        for (let k = 0; k < spans.length; k += 2) this.model.tokenize(sub.chars, spans[k], spans[k + 1], sink);
      }
    }
    const n = ids.length;
    return new Encoding({ ids, typeIds: Array(n).fill(typeId), tokens, offsets: utf16Offsets(chars, offsets), codePointOffsets: offsets,
      attentionMask: Array(n).fill(1), specialTokensMask: Array(n).fill(0) });
  }

  _postProcess(a, b, addSpecial) {
    if (this._truncation) {
      const added = this.postProcessor && addSpecial ? this.postProcessor.addedTokens(!!b) : 0;
      truncate(a, b, this._truncation, added);
    }
    const out = this.postProcessor ? this.postProcessor.process(a, b, addSpecial) : concatDefault(a, b);
    if (this._padding) padBatch([out], this._padding);
    return out;
  }

  /** encode(text, pair?, {addSpecialTokens}) -> Encoding. `pair` may be null/undefined. */
  encode(text, pair = null, options = {}) {
    const addSpecial = typeof options === 'boolean' ? options : options.addSpecialTokens ?? true;
    const a = this._encodeSequence(text, 0);
    const b = pair === null || pair === undefined ? null : this._encodeSequence(pair, 1);
    return this._postProcess(a, b, addSpecial);
  }

  /** encodeBatch([text | [text, pair]], {addSpecialTokens}) -> Encoding[]; BatchLongest pads across the batch. */
  encodeBatch(inputs, options = {}) {
    const out = inputs.map((x) => (Array.isArray(x) ? this.encode(x[0], x[1], options) : this.encode(x, null, options)));
    if (this._padding) padBatch(out, this._padding);
    return out;
  }

  decode(ids, options = {}) {
    const skip = typeof options === 'boolean' ? options : options.skipSpecialTokens ?? true;
    const tokens = [];
    for (const id of ids) {
      const t = this.idToToken(id);
      if (t === null || (skip && this.added.special.has(t))) continue;
      tokens.push(t);
    }
    return this.decoder ? this.decoder(tokens) : tokens.join(' ');
  }

  decodeBatch(sequences, options = {}) { return sequences.map((s) => this.decode(s, options)); }
}
