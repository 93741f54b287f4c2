// edgepack tokenizer: a documented subset of Hugging Face tokenizer.json, dependency-free.
// Same pipeline and results as toolkit/runtime/tokenizer (Python); both are held to golden files
// made by Hugging Face `tokenizers` (tests/tokenizer/golden). Spec: toolkit/runtime/tokenizer/SPEC.md.
//
// Works in browsers and Node >= 18 (no dependencies). Internally every string is an array of code points,
// so offsets are computed in code points exactly as the reference (and Python) report them;
// Encoding.offsets is converted to UTF-16 code units (what String.prototype.slice wants) and
// Encoding.codePointOffsets keeps the reference's numbers.
//
// One module per component (normalizers, pre_tokenizers, models, ...), file for file like the Python package toolkit/runtime/tokenizer/.

export { Encoding } from './encoding.mjs';
export { TokenizerSpecError } from './spec.mjs';
export { SUPPORTED_VERSIONS, Tokenizer } from './tokenizer.mjs';
export { Tokenizer as default } from './tokenizer.mjs';
