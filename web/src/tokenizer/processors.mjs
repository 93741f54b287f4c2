// Mirrors toolkit/runtime/tokenizer/processors.py (spec: toolkit/runtime/tokenizer/SPEC.md).
// Post-processors (one factory, fromSpec, dispatching on `type`), truncation and padding.
import { Encoding } from './encoding.mjs';
import { trimOffsets } from './byte_level.mjs';
import { TokenizerSpecError, kindOf } from './spec.mjs';

function specialEncoding(ids, tokens, typeId) {
  const e = new Encoding();
  for (let k = 0; k < ids.length; k++) {
    e.ids.push(ids[k]); e.typeIds.push(typeId); e.tokens.push(tokens[k]); e.offsets.push([0, 0]);
    e.codePointOffsets.push([0, 0]); e.attentionMask.push(1); e.specialTokensMask.push(1);
  }
  return e;
}

// ---- post-processors, truncation, padding -------------------------------------------------------
export function concatDefault(a, b) { if (b) a.extend(b); return a; }

export class BertProcessing {
  constructor(sep, cls) { this.sep = sep; this.cls = cls; }
  addedTokens(isPair) { return isPair ? 3 : 2; }
  process(a, b, addSpecial) {
    if (!addSpecial) return concatDefault(a, b);
    const out = specialEncoding([this.cls[1]], [this.cls[0]], 0);
    a.typeIds = Array(a.length).fill(0);
    out.extend(a);
    out.extend(specialEncoding([this.sep[1]], [this.sep[0]], 0));
    if (b) {
      b.typeIds = Array(b.length).fill(1);
      out.extend(b);
      out.extend(specialEncoding([this.sep[1]], [this.sep[0]], 1));
    }
    return out;
  }
}

export class TemplateProcessing {
  constructor(single, pair, special) { this.single = single; this.pair = pair; this.special = special; }
  addedTokens(isPair) {
    return (isPair ? this.pair : this.single).reduce((n, [kind, id]) => n + (kind === 'SpecialToken' ? this.special.get(id)[0].length : 0), 0);
  }
  process(a, b, addSpecial) {
    const out = new Encoding();
    for (const [kind, id, typeId] of b ? this.pair : this.single) {
      if (kind === 'Sequence') {
        const enc = id === 'A' ? a : b;
        if (!enc) continue;
        enc.typeIds = Array(enc.length).fill(typeId);
        out.extend(enc);
      } else if (addSpecial) {
        const [ids, tokens] = this.special.get(id);
        out.extend(specialEncoding(ids, tokens, typeId));
      }
    }
    return out;
  }
}

// Trim byte-level spaces out of both offset arrays (the UTF-16 ones move by the same counts: the
// characters trimmed are spaces, one code unit each).
function trim(e, addPrefixSpace) {
  const before = e.codePointOffsets.map((o) => o.slice());
  trimOffsets(e.tokens, e.codePointOffsets, addPrefixSpace);
  e.offsets = e.offsets.map(([s, t], k) => [s + e.codePointOffsets[k][0] - before[k][0], t + e.codePointOffsets[k][1] - before[k][1]]);
}

export class RobertaProcessing {
  constructor(sep, cls, trimOffsets, addPrefixSpace) { this.sep = sep; this.cls = cls; this.trim = trimOffsets; this.addPrefixSpace = addPrefixSpace; }
  addedTokens(isPair) { return isPair ? 4 : 2; }
  process(a, b, addSpecial) {
    for (const e of [a, b]) {
      if (!e) continue;
      if (this.trim) trim(e, this.addPrefixSpace);
      e.typeIds = Array(e.length).fill(0); // RoBERTa has one segment
    }
    if (!addSpecial) return concatDefault(a, b);
    const sep = () => specialEncoding([this.sep[1]], [this.sep[0]], 0);
    const out = specialEncoding([this.cls[1]], [this.cls[0]], 0);
    out.extend(a); out.extend(sep());
    if (b) { out.extend(sep()); out.extend(b); out.extend(sep()); }
    return out;
  }
}

export class ByteLevelProcessing {
  constructor(trimOffsets, addPrefixSpace) { this.trim = trimOffsets; this.addPrefixSpace = addPrefixSpace; }
  addedTokens() { return 0; }
  trimOnly(a, b) { if (this.trim) for (const e of [a, b]) if (e) trim(e, this.addPrefixSpace); }
  process(a, b) { this.trimOnly(a, b); return concatDefault(a, b); }
}

// Each processor on the encodings the one before left, merged at the end (the reference's Sequence).
export class SequenceProcessing {
  constructor(items) { this.items = items; }
  addedTokens(isPair) { return this.items.reduce((n, p) => n + p.addedTokens(isPair), 0); }
  process(a, b, addSpecial) {
    let encs = b ? [a, b] : [a];
    for (const p of this.items) {
      if (p instanceof ByteLevelProcessing) p.trimOnly(encs[0], encs[1] ?? null);
      else encs = [p.process(encs[0], encs[1] ?? null, addSpecial)];
    }
    return concatDefault(encs[0], encs[1] ?? null);
  }
}

function templateFromSpec(value, ctx, special) {
  if (typeof value === 'string') throw ctx.error('template strings are not supported here; use the serialized list form (as tokenizers writes it)');
  if (!Array.isArray(value)) throw ctx.error(`expected an array, got ${kindOf(value ?? null)}`);
  return value.map((piece, i) => {
    const pctx = ctx.at(i);
    piece = pctx.obj(piece);
    for (const kind of ['Sequence', 'SpecialToken']) {
      if (!(kind in piece)) continue;
      const kctx = pctx.at(kind), p = kctx.obj(piece[kind]);
      const id = kctx.get(p, 'id', 'string');
      if (kind === 'Sequence' && id !== 'A' && id !== 'B') throw kctx.at('id').error(`"${id}" must be "A" or "B"`);
      if (kind === 'SpecialToken' && !special.has(id)) throw pctx.error(`special token "${id}" is not in post_processor.special_tokens`);
      return [kind, id, kctx.get(p, 'type_id', 'int', 0)];
    }
    throw pctx.error('expected {"Sequence": ...} or {"SpecialToken": ...}');
  });
}

export const SUPPORTED = Object.freeze(['BertProcessing', 'TemplateProcessing', 'RobertaProcessing', 'ByteLevel', 'Sequence']);

export function fromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  const t = ctx.typeOf(obj, SUPPORTED);
  const pair = (key, dflt) => {
    const v = ctx.get(obj, key, 'array', dflt);
    if (v.length !== 2 || typeof v[0] !== 'string' || !Number.isInteger(v[1])) throw ctx.at(key).error('expected ["token", id]');
    return v;
  };
  const flag = (key) => ctx.get(obj, key, 'boolean', true);
  if (t === 'BertProcessing') return new BertProcessing(pair('sep'), pair('cls'));
  if (t === 'RobertaProcessing') return new RobertaProcessing(pair('sep', ['</s>', 2]), pair('cls', ['<s>', 0]), flag('trim_offsets'), flag('add_prefix_space'));
  if (t === 'ByteLevel') return new ByteLevelProcessing(flag('trim_offsets'), flag('add_prefix_space'));
  if (t === 'Sequence') {
    return new SequenceProcessing(ctx.get(obj, 'processors', 'array').map((x, i) => fromSpec(ctx.at('processors').at(i).obj(x), ctx.at('processors').at(i))));
  }
  const special = new Map();
  const sctx = ctx.at('special_tokens');
  for (const [name, spec] of Object.entries(ctx.get(obj, 'special_tokens', 'object', {}))) {
    const s = sctx.at(name).obj(spec);
    const ids = sctx.at(name).get(s, 'ids', 'array'), tokens = sctx.at(name).get(s, 'tokens', 'array');
    if (ids.length !== tokens.length) throw sctx.at(name).error('ids and tokens must have the same length');
    special.set(name, [ids, tokens]);
  }
  return new TemplateProcessing(templateFromSpec(obj.single, ctx.at('single'), special), templateFromSpec(obj.pair, ctx.at('pair'), special), special);
}

export const STRATEGIES = { LongestFirst: 'longest_first', OnlyFirst: 'only_first', OnlySecond: 'only_second' };
export const DIRECTIONS = ['Right', 'Left'];

export function truncate(a, b, params, added) {
  const maxLength = params.max_length - added;
  if (maxLength < 0) throw new TokenizerSpecError(`truncation.max_length ${params.max_length} is smaller than the ${added} special tokens the post_processor adds; raise it`);
  const dir = params.direction;
  if (maxLength === 0) { a.truncate(0, dir); if (b) b.truncate(0, dir); return; }
  const total = a.length + (b ? b.length : 0);
  if (total <= maxLength) return;
  const toRemove = total - maxLength;
  if (params.strategy === 'LongestFirst') {
    if (!b) { a.truncate(total - toRemove, dir); return; }
    let n1 = a.length, n2 = b.length;
    const swap = n1 > n2;
    if (swap) [n1, n2] = [n2, n1];
    n2 = n1 > maxLength ? n1 : Math.max(n1, maxLength - n1);
    if (n1 + n2 > maxLength) { n1 = Math.floor(maxLength / 2); n2 = n1 + (maxLength % 2); }
    if (swap) [n1, n2] = [n2, n1];
    a.truncate(n1, dir); b.truncate(n2, dir);
    return;
  }
  let target = a;
  if (params.strategy === 'OnlySecond') {
    if (!b) throw new TokenizerSpecError('truncation strategy OnlySecond needs a pair; encode a pair or use LongestFirst');
    target = b;
  }
  if (target.length > toRemove) target.truncate(target.length - toRemove, dir);
  else throw new TokenizerSpecError(`truncation: the sequence to truncate (${params.strategy}) is too short to respect max_length ${params.max_length}; use LongestFirst or a larger max_length`);
}

export function padBatch(encodings, params) {
  if (!encodings.length) return;
  let length = typeof params.strategy === 'object' ? params.strategy.Fixed : encodings.reduce((m, e) => Math.max(m, e.length), 0);
  const multiple = params.pad_to_multiple_of;
  if (multiple && length % multiple) length += multiple - (length % multiple);
  for (const e of encodings) e.pad(length, params.pad_id, params.pad_type_id, params.pad_token, params.direction);
}

export function truncationFromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  const out = { direction: ctx.get(obj, 'direction', 'string', 'Right'), max_length: ctx.get(obj, 'max_length', 'int'),
    strategy: ctx.get(obj, 'strategy', 'string', 'LongestFirst'), stride: ctx.get(obj, 'stride', 'int', 0) };
  if (!DIRECTIONS.includes(out.direction)) throw ctx.at('direction').error(`"${out.direction}" is not supported; supported: Right, Left`);
  if (!(out.strategy in STRATEGIES)) throw ctx.at('strategy').error(`"${out.strategy}" is not supported; supported: ${Object.keys(STRATEGIES).join(', ')}`);
  if (out.max_length < 0 || out.stride < 0) throw ctx.at('max_length').error('max_length and stride must be >= 0');
  return out;
}

export function paddingFromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  const strategy = obj.strategy ?? 'BatchLongest';
  const fixedOk = strategy !== null && typeof strategy === 'object' && Object.keys(strategy).join() === 'Fixed' &&
    Number.isInteger(strategy.Fixed) && strategy.Fixed >= 0;
  if (strategy !== 'BatchLongest' && !fixedOk) throw ctx.at('strategy').error(`${JSON.stringify(strategy)} is not supported; supported: "BatchLongest", {"Fixed": n}`);
  const out = { strategy, direction: ctx.get(obj, 'direction', 'string', 'Right'),
    pad_to_multiple_of: ctx.get(obj, 'pad_to_multiple_of', 'int', null, true), pad_id: ctx.get(obj, 'pad_id', 'int', 0),
    pad_type_id: ctx.get(obj, 'pad_type_id', 'int', 0), pad_token: ctx.get(obj, 'pad_token', 'string', '[PAD]') };
  if (!DIRECTIONS.includes(out.direction)) throw ctx.at('direction').error(`"${out.direction}" is not supported; supported: Right, Left`);
  return out;
}
