// Mirrors toolkit/runtime/tokenizer/normalized.py (spec: toolkit/runtime/tokenizer/SPEC.md).

// chars: code points; starts/ends: their span in the ORIGINAL input (code points). Alignment rules
// are tokenizers' transform_range: an inserted char (change > 0) takes the span of the previous
// input char; others take the span of the char they replace; change < 0 swallows more input chars.
export class NormalizedString {
  constructor(chars, starts, ends) { this.chars = chars; this.starts = starts; this.ends = ends; }
  static fromChars(chars) {
    const n = chars.length, starts = new Array(n), ends = new Array(n);
    for (let i = 0; i < n; i++) { starts[i] = i; ends[i] = i + 1; }
    return new NormalizedString(chars.slice(), starts, ends); // normalizers may edit chars in place
  }
  get length() { return this.chars.length; }
  text() { return this.chars.join(''); }
  slice(a, b) { return new NormalizedString(this.chars.slice(a, b), this.starts.slice(a, b), this.ends.slice(a, b)); }
  span(a, b) { return [this.starts[a], this.ends[b - 1]]; }
  transform(newChars, changes) { // parallel arrays: output chars and their change values
    const chars = newChars, starts = new Array(chars.length), ends = new Array(chars.length);
    let idx = 0;
    for (let k = 0; k < chars.length; k++) {
      const change = changes[k];
      let s, e;
      if (change > 0) {
        if (idx >= 1) { s = this.starts[idx - 1]; e = this.ends[idx - 1]; } else { s = 0; e = 0; }
      } else {
        s = this.starts[idx]; e = this.ends[idx];
        idx += 1 - change;
      }
      starts[k] = s; ends[k] = e;
    }
    this.chars = chars; this.starts = starts; this.ends = ends;
  }
  filter(keep) {
    if (this.chars.every(keep)) return;
    const chars = [], starts = [], ends = [];
    this.chars.forEach((c, i) => { if (keep(c)) { chars.push(c); starts.push(this.starts[i]); ends.push(this.ends[i]); } });
    this.chars = chars; this.starts = starts; this.ends = ends;
  }
  replace(pattern, content) {
    const pat = Array.from(pattern), rep = Array.from(content);
    const n = this.chars.length, m = pat.length;
    if (!m) return;
    const chars = [], starts = [], ends = [];
    let i = 0, changed = false;
    while (i < n) {
      let hit = i + m <= n;
      for (let k = 0; hit && k < m; k++) if (this.chars[i + k] !== pat[k]) hit = false;
      if (hit) {
        changed = true;
        const s = this.starts[i + m - 1], e = this.ends[i + m - 1];
        for (const c of rep) { chars.push(c); starts.push(s); ends.push(e); }
        i += m;
      } else {
        chars.push(this.chars[i]); starts.push(this.starts[i]); ends.push(this.ends[i]);
        i++;
      }
    }
    if (changed) { this.chars = chars; this.starts = starts; this.ends = ends; }
  }
}
