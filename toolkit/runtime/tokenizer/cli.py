"""The library side of `edgepack tokenize`: JSON lines in, one JSON line per input out.

Kept free of click so the same function serves the CLI, tests and Pyodide. Output bytes are the
same as `node web/bin/tokenize.mjs` (same key order, same JSON escaping).
"""

from __future__ import annotations

import json
import os

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.tokenizer.tokenizer import Tokenizer


def parse_line(line: str, lineno: int):
    try:
        item = json.loads(line)
    except json.JSONDecodeError as e:
        raise TokenizerSpecError(f"stdin line {lineno}: not valid JSON ({e.msg}); "
                                 'give a JSON string or {"text": ..., "pair": ...}') from e
    if isinstance(item, str):
        return item, None
    if isinstance(item, dict) and isinstance(item.get("text"), str) and isinstance(item.get("pair"), (str, type(None))):
        return item["text"], item.get("pair")
    raise TokenizerSpecError(f'stdin line {lineno}: expected a JSON string or {{"text": ..., "pair": ...}}')


def dump(enc) -> str:
    return json.dumps(enc.to_dict(), ensure_ascii=False, separators=(",", ":"))


def run(spec: str, stdin_bytes, stdout, add_special_tokens: bool = True, batch: bool = False) -> int:
    path = os.path.join(spec, "tokenizer.json") if os.path.isdir(spec) else spec
    tok = Tokenizer.from_file(path)
    # Defined behaviour for bad bytes: replaced (U+FFFD), never a crash.
    text = stdin_bytes.read().decode("utf-8", errors="replace")
    items = [parse_line(line, k + 1) for k, line in enumerate(text.splitlines()) if line.strip()]
    if batch:
        encs = tok.encode_batch([t if p is None else (t, p) for t, p in items], add_special_tokens=add_special_tokens)
        for e in encs:
            stdout.write(dump(e) + "\n")
    else:
        for t, p in items:
            stdout.write(dump(tok.encode(t, p, add_special_tokens=add_special_tokens)) + "\n")
    stdout.flush()
    return 0
