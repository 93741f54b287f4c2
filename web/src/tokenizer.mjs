// edgepack tokenizer, one module per component under ./tokenizer/ (the Python package's layout, file for
// file). This entry point stays so existing imports (pipeline.mjs, bin/tokenize.mjs, bundles) keep working.
export * from './tokenizer/index.mjs';
export { default } from './tokenizer/index.mjs';
