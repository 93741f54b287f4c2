// Mirrors toolkit/runtime/tokenizer/decoders.py (spec: toolkit/runtime/tokenizer/SPEC.md).
// One factory, fromSpec, dispatches on the spec's `type`; unknown types are refused by name.

const CLEANUP = [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"], [" 'm", "'m"],
  [' do not', " don't"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]];
const cleanup = (s) => CLEANUP.reduce((acc, [a, b]) => acc.split(a).join(b), s);

export const SUPPORTED = Object.freeze(['WordPiece']);

export function fromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  ctx.typeOf(obj, SUPPORTED);
  const prefix = ctx.get(obj, 'prefix', 'string', '##'), clean = ctx.get(obj, 'cleanup', 'boolean', true);
  return (tokens) => tokens.map((t, i) => {
    if (i) t = t.startsWith(prefix) ? t.replace(prefix, () => '') : ' ' + t;
    return clean ? cleanup(t) : t;
  }).join('');
}
