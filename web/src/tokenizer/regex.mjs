// Mirrors toolkit/runtime/tokenizer/_regex.py (spec: SPEC.md, "Regular expressions").
// Oniguruma patterns from tokenizer.json translated to JS RegExp (u flag). Unicode classes become
// explicit ranges probed from the reference (regex_tables.mjs), so the host's Unicode version never
// changes a split; what cannot be translated exactly is refused with the JSON path.
import { CLASSES } from './regex_tables.mjs';

const RANGES = new Map();
export function ranges(name) {
  let r = RANGES.get(name);
  if (!r) {
    r = CLASSES[name].split(' ').filter(Boolean).map((part) => {
      const [a, b] = part.split('-');
      return [parseInt(a, 16), parseInt(b ?? a, 16)];
    });
    RANGES.set(name, r);
  }
  return r;
}

const esc = (cp) => `\\u{${cp.toString(16)}}`;
export const classBody = (name) => ranges(name).map(([a, b]) => (a === b ? esc(a) : `${esc(a)}-${esc(b)}`)).join('');

const PROPS = new Set(['L', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'M', 'Mn', 'N', 'Nd', 'P', 'S']);
const PLAIN = new Set([...'tnrfv', ...'.^$|?*+()[]{}\\/-\'"#&~ !,:;<=>@%_`']);
const REFUSED = { b: 'word boundaries (\\b)', B: 'word boundaries (\\B)', X: '\\X', G: '\\G', K: '\\K', A: '\\A', z: '\\z',
  Z: '\\Z', h: '\\h', H: '\\H', R: '\\R', N: '\\N', O: '\\O', k: 'backreferences', g: 'subexpression calls' };
const CTRL = { t: 9, n: 10, r: 13, f: 12, v: 11, a: 7, e: 27 };

// Case-insensitive groups, (?i:...) as Llama-3-style patterns use them: ASCII letters only (see _regex.py).
const FOLDS = { s: '[sS\\u{17f}]', k: '[kK\\u{212a}]' };
const MULTI_FOLDS = new Set(['ss', 'ff', 'fi', 'fl', 'st']);

export function translate(pattern, ctx) {
  const refuse = (what) => ctx.error(`regex ${JSON.stringify(pattern.slice(0, 80))}: ${what} is not supported (see SPEC.md, Regular expressions)`);
  const n = pattern.length;
  const readEscape = (i) => { // -> [kind, text, next]; kind P (class), N (negated class), C (one char)
    if (i + 1 >= n) throw refuse('a trailing backslash');
    const c = pattern[i + 1];
    if (c === 'p' || c === 'P') {
      const m = /^\{(\^?)(\w+)\}/.exec(pattern.slice(i + 2));
      if (!m || !PROPS.has(m[2])) throw refuse(`the class ${JSON.stringify(pattern.slice(i, i + 2 + (m ? m[0].length : 3)))}`);
      return [(c === 'P') !== (m[1] === '^') ? 'N' : 'P', m[2], i + 2 + m[0].length];
    }
    if ('sdwSDW'.includes(c)) return [c === c.toUpperCase() ? 'N' : 'P', c.toLowerCase(), i + 2];
    if (c >= '1' && c <= '9') throw refuse('backreferences');
    if (c in REFUSED) throw refuse(REFUSED[c]);
    if (c === 'x') {
      const m = /^([0-9a-fA-F]{2}|\{[0-9a-fA-F]{1,6}\})/.exec(pattern.slice(i + 2));
      if (!m) throw refuse('this \\x escape');
      return ['C', esc(parseInt(m[0].replace(/[{}]/g, ''), 16)), i + 2 + m[0].length];
    }
    if (c === 'u') {
      const m = /^[0-9a-fA-F]{4}/.exec(pattern.slice(i + 2));
      if (!m) throw refuse('this \\u escape');
      return ['C', esc(parseInt(m[0], 16)), i + 6];
    }
    if (c === '0') return ['C', '\\u{0}', i + 2];
    if (c in CTRL) return ['C', esc(CTRL[c]), i + 2];
    if (PLAIN.has(c) || !/[A-Za-z0-9]/.test(c)) {
      const cp = c.codePointAt(0);
      return ['C', esc(cp), i + 1 + (cp > 0xffff ? 2 : 1)];
    }
    throw refuse(`the escape \\${c}`);
  };
  const out = [];
  const groups = []; // per open group: inside (?i:...)?
  let i = 0, inClass = false, classStart = 0, prevLetter = '';
  while (i < n) {
    const c = pattern[i];
    const icase = groups.length > 0 && groups[groups.length - 1];
    const letter = /^[A-Za-z]$/.test(c);
    if (icase && (c === '[' || c === '\\' || (/\p{L}/u.test(c) && !letter) || (c >= '\ud800' && c <= '\udfff'))) {
      throw refuse('classes, escapes and non-ASCII letters inside (?i:...)');
    }
    if (icase && letter) {
      const pair = (prevLetter + c).toLowerCase();
      if (MULTI_FOLDS.has(pair)) throw refuse(`the letters ${JSON.stringify(pair)} inside (?i:...) (Oniguruma also matches one character that folds to them)`);
      out.push(FOLDS[c.toLowerCase()] ?? `[${c.toLowerCase()}${c.toUpperCase()}]`);
      prevLetter = c; i++;
      continue;
    }
    prevLetter = '';
    if (inClass) {
      if (c === ']' && i > classStart) { out.push(']'); inClass = false; i++; }
      else if (c === '\\') {
        const [kind, text, next] = readEscape(i); i = next;
        if (kind === 'P') out.push(classBody(text));
        else if (kind === 'N') throw refuse('a negated class inside [...]');
        else out.push(text);
      } else if (c === '[') throw refuse('nested classes and POSIX brackets inside [...]');
      else if (c === '&' && pattern.startsWith('&&', i)) throw refuse('class intersection (&&)');
      else if (c === '-') { out.push('-'); i++; }
      else { const cp = pattern.codePointAt(i); out.push(esc(cp)); i += cp > 0xffff ? 2 : 1; }
      continue;
    }
    if (c === '\\') {
      const [kind, text, next] = readEscape(i); i = next;
      out.push(kind === 'P' ? `[${classBody(text)}]` : kind === 'N' ? `[^${classBody(text)}]` : text);
    } else if (c === '[') {
      inClass = true; out.push('['); i++;
      if (pattern[i] === '^') { out.push('^'); i++; }
      classStart = i;
      if (pattern[i] === ']') { out.push('\\]'); i++; classStart = i - 1; }
    } else if (c === '(') {
      if (pattern.startsWith('(?i:', i)) { groups.push(true); out.push('(?:'); i += 4; continue; }
      groups.push(icase);
      if (pattern.startsWith('(?', i)) {
        const head = pattern.slice(i, i + 3);
        if (head === '(?:' || head === '(?=' || head === '(?!') { out.push(head); i += 3; continue; }
        throw refuse(`the group ${JSON.stringify(pattern.slice(i, i + 4))} (lookbehind, atomic, named groups and inline flags other than (?i:)`);
      }
      out.push('(?:'); i++;
    } else if (c === ')') { groups.pop(); out.push(')'); i++;
    } else if ('*+?}'.includes(c) && pattern[i + 1] === '+' && !(c === '+' && out[out.length - 1] === '+')) {
      throw refuse('possessive quantifiers');
    } else if (c === '.') { out.push('[^\\n]'); i++; } // Oniguruma's '.' stops at \n only; JS's at \r, \u2028 too
    else if (c === '^') { out.push('(?<![^\\n])'); i++; } // Ruby line anchors: after \n only (JS m flag: \r too)
    else if (c === '$') { out.push('(?![^\\n])'); i++; }
    else { const cp = pattern.codePointAt(i); out.push(/[A-Za-z0-9 ]/.test(c) || '|*+?{},'.includes(c) ? c : c === ')' ? ')' : esc(cp)); i += cp > 0xffff ? 2 : 1; }
  }
  if (inClass) throw refuse('an unterminated [...]');
  const source = out.join('');
  try {
    new RegExp(source, 'gu');
  } catch (e) {
    throw refuse(`this pattern (${e.message})`);
  }
  return source;
}

const escapeString = (s) => Array.from(s, (c) => esc(c.codePointAt(0))).join('');

/** tokenizer.json's {"String": s} / {"Regex": r} -> a global, unicode RegExp. */
export function compilePattern(pattern, ctx) {
  pattern = ctx.obj(pattern);
  const keys = Object.keys(pattern);
  if (keys.length !== 1 || !['String', 'Regex'].includes(keys[0])) {
    throw ctx.error(`${keys.map((k) => `"${k}"`).join(', ') || 'nothing'} is not supported; supported: String, Regex`);
  }
  if ('String' in pattern) return new RegExp(escapeString(ctx.get(pattern, 'String', 'string')) || '(?:)', 'gu');
  return new RegExp(translate(ctx.get(pattern, 'Regex', 'string'), ctx.at('Regex')), 'gu');
}

/** Matches of `re` in chars[0..n) as code-point spans [[s, e], ...]; Oniguruma's iteration (an
 * empty match right after a match is skipped). */
export function findSpans(re, chars) {
  const text = chars.join('');
  const cpAt = new Int32Array(text.length + 1); // UTF-16 index -> code-point index
  for (let k = 0, u = 0; k < chars.length; k++) { cpAt[u] = k; u += chars[k].length; }
  cpAt[text.length] = chars.length;
  const out = [];
  re.lastIndex = 0;
  let end = -1, m;
  while ((m = re.exec(text)) !== null) {
    const s = cpAt[m.index], e = cpAt[m.index + m[0].length];
    if (m[0].length === 0) re.lastIndex += text.codePointAt(re.lastIndex) > 0xffff ? 2 : 1;
    if (s === e && e === end) continue;
    end = e;
    out.push([s, e]);
  }
  return out;
}
