// Mirrors toolkit/runtime/tokenizer/decoders.py (spec: toolkit/runtime/tokenizer/SPEC.md).
// One factory, fromSpec, dispatches on the spec's `type`; unknown types are refused by name.
import { decodeByteLevel } from './byte_level.mjs';
import { SCHEMES, decodeMetaspace } from './metaspace.mjs';
import { compilePattern } from './regex.mjs';

const CLEANUP = [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"], [" 'm", "'m"],
  [' do not', " don't"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]];
const cleanup = (s) => CLEANUP.reduce((acc, [a, b]) => acc.split(a).join(b), s);

const isByteToken = (t) => t.length === 6 && t.startsWith('<0x') && t.endsWith('>') && /^[0-9A-Fa-f]{2}$/.test(t.slice(3, 5));

function byteFallback(tokens) {
  const out = [];
  let run = [];
  const flush = () => {
    if (!run.length) return;
    try { out.push(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(run))); } catch { for (const _ of run) out.push('\ufffd'); }
    run = [];
  };
  for (const t of tokens) {
    if (isByteToken(t)) { run.push(parseInt(t.slice(3, 5), 16)); continue; }
    flush(); out.push(t);
  }
  flush();
  return out;
}

export const SUPPORTED = Object.freeze(['WordPiece', 'ByteLevel', 'Metaspace', 'BPEDecoder', 'ByteFallback', 'Fuse', 'Strip', 'Replace', 'Sequence']);

// chain(tokens) -> tokens, as the reference's decode_chain; the decoder joins the last chain's tokens.
function chainFromSpec(obj, ctx) {
  obj = ctx.obj(obj);
  switch (ctx.typeOf(obj, SUPPORTED)) {
    case 'WordPiece': {
      const prefix = ctx.get(obj, 'prefix', 'string', '##'), clean = ctx.get(obj, 'cleanup', 'boolean', true);
      return (tokens) => tokens.map((t, i) => {
        if (i) t = t.startsWith(prefix) ? t.replace(prefix, () => '') : ' ' + t;
        return clean ? cleanup(t) : t;
      });
    }
    case 'ByteLevel': return decodeByteLevel;
    case 'Metaspace': {
      let scheme = ctx.get(obj, 'prepend_scheme', 'string', 'always');
      if (!SCHEMES.includes(scheme)) throw ctx.at('prepend_scheme').error(`"${scheme}" is not supported; supported: ${SCHEMES.join(', ')}`);
      if (ctx.get(obj, 'add_prefix_space', 'boolean', null, true) === false) scheme = 'never';
      return decodeMetaspace(ctx.get(obj, 'replacement', 'string', '\u2581'), scheme);
    }
    case 'BPEDecoder': {
      const suffix = ctx.get(obj, 'suffix', 'string', '</w>');
      return (tokens) => tokens.map((t, k) => t.split(suffix).join(k === tokens.length - 1 ? '' : ' '));
    }
    case 'ByteFallback': return byteFallback;
    case 'Fuse': return (tokens) => [tokens.join('')];
    case 'Strip': {
      const content = ctx.get(obj, 'content', 'string'), start = ctx.get(obj, 'start', 'int', 0), stop = ctx.get(obj, 'stop', 'int', 0);
      return (tokens) => tokens.map((t) => {
        const cs = Array.from(t);
        let a = 0, b = cs.length;
        while (a < Math.min(start, b) && cs[a] === content) a++;
        for (let k = 0; k < stop && b > a && cs[b - 1] === content; k++) b--;
        return cs.slice(a, b).join('');
      });
    }
    case 'Replace': {
      const re = compilePattern(ctx.get(obj, 'pattern', 'object'), ctx.at('pattern')), content = ctx.get(obj, 'content', 'string');
      return (tokens) => tokens.map((t) => t.replace(re, (m) => (m.length ? content : '')));
    }
    default: {
      const items = ctx.get(obj, 'decoders', 'array').map((x, i) => chainFromSpec(x, ctx.at('decoders').at(i)));
      return (tokens) => items.reduce((acc, d) => d(acc), tokens);
    }
  }
}

export function fromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  const chain = chainFromSpec(obj, ctx);
  return (tokens) => chain(tokens).join('');
}
