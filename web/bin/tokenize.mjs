#!/usr/bin/env node
// JSON lines in, one JSON line per input out -- the JS twin of `edgepack tokenize` (same bytes).
//   echo '"Hello, world!"' | node web/bin/tokenize.mjs samples/sentiment/tokenizer.json
//   node web/bin/tokenize.mjs SPEC [--no-special-tokens] [--batch] < inputs.jsonl
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { Tokenizer, TokenizerSpecError } from '../src/tokenizer.mjs';

function parseLine(line, lineno) {
  let item;
  try {
    item = JSON.parse(line);
  } catch (err) {
    throw new TokenizerSpecError(`stdin line ${lineno}: not valid JSON (${err.message}); give a JSON string or {"text": ..., "pair": ...}`);
  }
  if (typeof item === 'string') return [item, null];
  if (item && typeof item === 'object' && typeof item.text === 'string' && (item.pair === undefined || item.pair === null || typeof item.pair === 'string')) {
    return [item.text, item.pair ?? null];
  }
  throw new TokenizerSpecError(`stdin line ${lineno}: expected a JSON string or {"text": ..., "pair": ...}`);
}

function main(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const positional = argv.filter((a) => !a.startsWith('--'));
  if (flags.has('--help') || positional.length !== 1) {
    process.stderr.write('usage: node web/bin/tokenize.mjs SPEC [--no-special-tokens] [--batch] < lines.jsonl\n');
    return flags.has('--help') ? 0 : 2;
  }
  for (const f of flags) if (!['--no-special-tokens', '--batch', '--help'].includes(f)) {
    process.stderr.write(`error: unknown option ${f}\n`);
    return 2;
  }
  let spec = positional[0];
  try {
    if (statSync(spec).isDirectory()) spec = join(spec, 'tokenizer.json');
    let bytes;
    try {
      bytes = readFileSync(spec);
    } catch (err) {
      throw new TokenizerSpecError(`${spec}: cannot read tokenizer file (${err.code}); check the path`);
    }
    const tok = Tokenizer.fromBytes(bytes, spec);
    // invalid UTF-8 on stdin: replaced by U+FFFD (WHATWG decoder), as the Python CLI does
    const text = new TextDecoder('utf-8').decode(readFileSync(0));
    const items = text.split(/\r\n|\r|\n/).map((l, k) => [l, k + 1]).filter(([l]) => l.trim()).map(([l, k]) => parseLine(l, k));
    const options = { addSpecialTokens: !flags.has('--no-special-tokens') };
    const encs = flags.has('--batch')
      ? tok.encodeBatch(items.map(([t, p]) => (p === null ? t : [t, p])), options)
      : items.map(([t, p]) => tok.encode(t, p, options));
    process.stdout.write(encs.map((e) => JSON.stringify(e.toJSON()) + '\n').join(''));
    return 0;
  } catch (err) {
    if (err instanceof TokenizerSpecError || err.code === 'ENOENT') {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = main(process.argv.slice(2));
