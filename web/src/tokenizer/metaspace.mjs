// Mirrors toolkit/runtime/tokenizer/metaspace.py: spaces become the replacement, one is prepended
// (always / first / never), and words start at each replacement (MergedWithNext).
export const SCHEMES = ['always', 'first', 'never'];

export function metaspace(replacement, scheme, split) {
  const pieces = (chars, pos, starts) => {
    chars = chars.map((c) => (c === ' ' ? replacement : c));
    // "first": only the stretch that starts the input (its first character at original offset 0).
    const atStart = pos.length > 0 && starts[pos[0]] === 0;
    if (chars.length && chars[0] !== replacement && (scheme === 'always' || (scheme === 'first' && atStart))) {
      chars = [replacement, ...chars]; pos = [pos[0], ...pos];
    }
    if (!chars.length) return [];
    if (!split) return [[chars, pos]];
    const out = [];
    let last = 0;
    for (let i = 1; i < chars.length; i++) {
      if (chars[i] === replacement) { out.push([chars.slice(last, i), pos.slice(last, i)]); last = i; }
    }
    out.push([chars.slice(last), pos.slice(last)]);
    return out;
  };
  return { transforms: true, pieces };
}

export const decodeMetaspace = (replacement, scheme) => (tokens) => tokens.map((t, k) => t.split(replacement).join(k === 0 && scheme !== 'never' ? '' : ' '));
