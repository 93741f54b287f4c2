// Mirrors toolkit/runtime/tokenizer/models.py (spec: toolkit/runtime/tokenizer/SPEC.md).
// One factory, fromSpec, dispatches on the spec's `type`; unknown types are refused by name.
import { bpeFromSpec } from './bpe.mjs';
import { TokenizerSpecError } from './spec.mjs';
import { unigramFromSpec } from './unigram.mjs';

// tokenize(chars, a, b, sink): the word is chars[a..b); sink(id, token, start, end) with indices into chars.
function vocabOf(obj, ctx) {
  const vocab = ctx.get(obj, 'vocab', 'object');
  const map = new Map();
  for (const [k, v] of Object.entries(vocab)) {
    if (!Number.isInteger(v) || v < 0) throw ctx.at('vocab').error(`id of ${JSON.stringify(k)} must be a non-negative integer, got ${JSON.stringify(v)}`);
    map.set(k, v);
  }
  return map;
}

export class WordLevel {
  constructor(vocab, unkToken) { this.vocab = vocab; this.unkToken = unkToken; }
  tokenize(chars, a, b, sink) {
    const text = b - a === 1 ? chars[a] : chars.slice(a, b).join('');
    const id = this.vocab.get(text);
    if (id !== undefined) { sink(id, text, a, b); return; }
    const unk = this.unkToken === null ? undefined : this.vocab.get(this.unkToken);
    if (unk === undefined) {
      throw new TokenizerSpecError(`WordLevel: ${JSON.stringify(text)} is not in the vocabulary and unk_token ${JSON.stringify(this.unkToken)} is not in it either; add the unk token to model.vocab`);
    }
    sink(unk, this.unkToken, a, b);
  }
}

export class WordPiece {
  constructor(vocab, unkToken, prefix, maxChars) {
    this.vocab = vocab; this.unkToken = unkToken; this.prefix = prefix; this.maxChars = maxChars;
    this.tries = null; // built on first use
  }
  // Two code-point tries (every entry; entries after the ## prefix) turn the reference's
  // "longest vocabulary entry starting here" search into one walk: same answer, no substring churn.
  buildTries() {
    const first = new Map(), cont = new Map();
    const add = (root, text, id) => {
      let node = root;
      for (const c of text) {
        const cp = c.codePointAt(0);
        let next = node.get(cp);
        if (!next) { next = new Map(); node.set(cp, next); }
        node = next;
      }
      node.id = id;
    };
    for (const [tok, id] of this.vocab) {
      add(first, tok, id);
      if (tok.startsWith(this.prefix)) add(cont, tok.slice(this.prefix.length), id);
    }
    this.tries = [first, cont];
  }
  unkId() {
    const id = this.vocab.get(this.unkToken);
    if (id === undefined) throw new TokenizerSpecError(`WordPiece: unk_token ${JSON.stringify(this.unkToken)} is not in model.vocab; add it`);
    return id;
  }
  tokenize(chars, a, b, sink) {
    if (b - a > this.maxChars) { sink(this.unkId(), this.unkToken, a, b); return; }
    if (!this.tries) this.buildTries();
    const found = [];
    let start = a;
    while (start < b) {
      let node = this.tries[start > a ? 1 : 0], end = -1, id = -1;
      for (let i = start; i < b; i++) {
        node = node.get(chars[i].codePointAt(0));
        if (!node) break;
        if (node.id !== undefined) { end = i + 1; id = node.id; }
      }
      if (end < 0) { sink(this.unkId(), this.unkToken, a, b); return; }
      found.push(id, start, end);
      start = end;
    }
    for (let k = 0; k < found.length; k += 3) {
      const s = found[k + 1], e = found[k + 2];
      const piece = e - s === 1 ? chars[s] : chars.slice(s, e).join('');
      sink(found[k], s > a ? this.prefix + piece : piece, s, e);
    }
  }
}

export const SUPPORTED = Object.freeze(['WordLevel', 'WordPiece', 'BPE', 'Unigram']);

export function fromSpec(obj, ctx) {
  obj = ctx.obj(obj);
  const t = ctx.typeOf(obj, SUPPORTED);
  if (t === 'Unigram') return unigramFromSpec(obj, ctx);
  const vocab = vocabOf(obj, ctx);
  if (t === 'BPE') return bpeFromSpec(obj, ctx, vocab);
  if (t === 'WordLevel') return new WordLevel(vocab, ctx.get(obj, 'unk_token', 'string', null, true));
  return new WordPiece(vocab, ctx.get(obj, 'unk_token', 'string', '[UNK]'), ctx.get(obj, 'continuing_subword_prefix', 'string', '##'),
    ctx.get(obj, 'max_input_chars_per_word', 'int', 100));
}
