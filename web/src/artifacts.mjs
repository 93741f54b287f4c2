// Artifact names: a contract shared with the Python side (toolkit/runtime/artifacts.py).
// Keep both tables in sync; tests/web checks they agree.

/** precision -> model file name */
export const PRECISION_FILES = Object.freeze({
  fp32: 'model.fp32.onnx',
  fp16: 'model.fp16.onnx',
  int8: 'model.int8.onnx',
  int4: 'model.int4.onnx',
});

/** Tolerance on outputs when a runtime is checked against the golden vectors of a precision. */
export const PRECISION_TOLERANCE = Object.freeze({ fp32: 1e-5, fp16: 1e-2, int8: 1e-3, int4: 2e-2 });

export const MANIFEST_NAME = 'manifest.json';
export const TOKENIZER_NAME = 'tokenizer.json';
export const MANIFEST_FORMAT_VERSION = 1;
export const SUPPORTED_FORMAT_VERSIONS = Object.freeze([MANIFEST_FORMAT_VERSION]);

export function modelFileFor(precision) {
  const file = PRECISION_FILES[precision];
  if (file === undefined) {
    throw new Error(`unknown precision ${JSON.stringify(precision)}; known: ${Object.keys(PRECISION_FILES).join(', ')}`);
  }
  return file;
}
