// Mirrors toolkit/runtime/tokenizer/_spec.py (spec: toolkit/runtime/tokenizer/SPEC.md).
// Reading the spec with JSON paths: every refusal names the file, the path and what is supported.

export class TokenizerSpecError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TokenizerSpecError';
  }
}

export function kindOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return { boolean: 'a boolean', number: 'a number', string: 'a string', object: 'an object' }[typeof v] ?? typeof v;
}

export class Ctx {
  constructor(source, path = '') { this.source = source; this.path = path; }
  at(key) {
    return new Ctx(this.source, typeof key === 'number' ? `${this.path}[${key}]` : this.path ? `${this.path}.${key}` : key);
  }
  error(msg) {
    // `path "Value" is not supported` / `path is required` read as one phrase; others follow a colon.
    const sep = (msg.startsWith('"') || msg.startsWith('is ')) && this.path ? ' ' : ': ';
    return new TokenizerSpecError(`${this.path ? `${this.source}: ${this.path}` : this.source}${sep}${msg}`);
  }
  obj(v) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw this.error(`expected an object, got ${kindOf(v)}`);
    return v;
  }
  get(obj, key, kind, dflt = undefined, nullable = false) {
    if (!(key in obj)) {
      if (dflt === undefined) throw this.at(key).error('is required');
      return dflt;
    }
    const v = obj[key];
    if (v === null && nullable) return null;
    const ok = kind === 'int' ? Number.isInteger(v) : kind === 'array' ? Array.isArray(v)
      : kind === 'object' ? v !== null && typeof v === 'object' && !Array.isArray(v) : typeof v === kind;
    if (!ok) {
      const want = { int: 'an integer', array: 'an array', object: 'an object', string: 'a string', boolean: 'a boolean' }[kind];
      throw this.at(key).error(`expected ${want}, got ${kindOf(v)}`);
    }
    return v;
  }
  typeOf(obj, supported) {
    const t = obj.type;
    if (!supported.includes(t)) {
      const shown = typeof t === 'string' ? `"${t}"` : 'type' in obj ? kindOf(t) : 'missing';
      throw this.at('type').error(`${shown} is not supported; supported: ${supported.join(', ')}`);
    }
    return t;
  }
}
