// Fetching artifact files against the sha256 recorded in manifest.json.
//
// The browser enforces Subresource Integrity on fetch() ({integrity: 'sha256-<base64>'}), which
// works in insecure contexts too (crypto.subtle does not, e.g. http://192.168.x.y). On a mismatch
// the browser only says "TypeError: Failed to fetch", so we refetch without integrity and, where
// crypto.subtle exists, compute the digest to name what was wrong. The refetched bytes are never used.

export class IntegrityError extends Error {
  constructor(message, { file, expected, actual } = {}) {
    super(message);
    this.name = 'IntegrityError';
    this.file = file;
    this.expected = expected;
    this.actual = actual;
  }
}

/** 'ab12…' (64 hex chars) -> 'sha256-<base64>' as used by the integrity option. */
export function sriFromHex(hex) {
  if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/i.test(hex)) {
    throw new IntegrityError(`manifest.json: sha256 ${JSON.stringify(hex)} is not 64 hex digits; rebuild the bundle`);
  }
  let bin = '';
  for (let i = 0; i < 64; i += 2) bin += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return `sha256-${btoa(bin)}`;
}

async function sha256Hex(buffer) {
  if (!globalThis.crypto?.subtle) return null; // insecure context: no digest available
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Fetch `file` (relative to `baseUrl`) and return its bytes as an ArrayBuffer, refusing it unless
 * its sha256 equals `meta.sha256` (and its size `meta.bytes`, when given).
 */
export async function fetchVerified(baseUrl, file, meta) {
  if (!meta || !meta.sha256) {
    throw new IntegrityError(`manifest.json: no sha256 for ${file} under "files"; rebuild the bundle`, { file });
  }
  const url = new URL(file, baseUrl);
  const integrity = sriFromHex(meta.sha256);
  let response;
  try {
    response = await fetch(url, { integrity, cache: 'no-cache', credentials: 'same-origin' });
  } catch (err) {
    throw await explainFailure(url, file, meta, err);
  }
  if (!response.ok) {
    throw new IntegrityError(`${file}: HTTP ${response.status} ${response.statusText} from ${url.pathname}; is the bundle complete?`, { file });
  }
  const buffer = await response.arrayBuffer();
  if (meta.bytes !== undefined && buffer.byteLength !== meta.bytes) {
    // Cannot happen when the digest matched; kept as a belt-and-braces check for odd fetch implementations.
    throw new IntegrityError(`${file}: ${buffer.byteLength} bytes, manifest.json says ${meta.bytes}`, { file });
  }
  return buffer;
}

async function explainFailure(url, file, meta, original) {
  let actual = null;
  try {
    const r = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) {
      return new IntegrityError(`${file}: HTTP ${r.status} from ${url.pathname}; is the bundle complete?`, { file });
    }
    actual = await sha256Hex(await r.arrayBuffer());
  } catch {
    return new IntegrityError(`${file}: could not be fetched (${original.message}); is the server running?`, { file });
  }
  if (actual === meta.sha256) {
    return new IntegrityError(`${file}: fetch failed (${original.message}) although its sha256 matches`, { file });
  }
  const got = actual ? `sha256 ${actual}` : 'a different sha256';
  return new IntegrityError(
    `${file} was modified or corrupted: manifest.json expects sha256 ${meta.sha256}, the server sent ${got}. ` +
      'Refusing to load it; rebuild the bundle (edgepack build --target wasm) and redeploy every file.',
    { file, expected: meta.sha256, actual },
  );
}
