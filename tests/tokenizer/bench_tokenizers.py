"""Speed of edgepack's pure-Python tokenizer vs Hugging Face tokenizers (Rust) from Python.

A benchmark, not a test (pytest does not collect it): results go into toolkit/runtime/tokenizer/SPEC.md.
Run:  .venv/bin/python tests/tokenizer/bench_tokenizers.py [--json] [--configs a,b]
"""

from __future__ import annotations

import json
import pathlib
import platform
import sys
import time

import tokenizers

from edgepack.runtime.tokenizer import Tokenizer

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
SHORT = "The movie was surprisingly good, and I'd watch it again!"
UNIT = "The quick brown fox, naïve café 日本語 jumps over the lazy dog!! 12345 "
LONG = (UNIT * (10_000 // len(UNIT) + 1))[:10_000]
CONFIGS = ("bert_uncased", "sample_wordlevel", "roberta_bpe", "gpt2_bpe", "llama_byte_fallback", "xlmr_unigram")


def per_call_us(fn, min_s: float = 1.5) -> float:
    for _ in range(50):
        fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_s:
        for _ in range(20):
            fn()
        n += 20
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    rows = []
    names = sys.argv[sys.argv.index("--configs") + 1].split(",") if "--configs" in sys.argv else CONFIGS
    for name in names:
        path = GOLDEN / f"{name}.tokenizer.json"
        ours, ref = Tokenizer.from_file(path), tokenizers.Tokenizer.from_file(str(path))
        for t in (ours, ref):  # the whole text, not the truncated head
            t.no_truncation()
            t.no_padding()
        for label, text in (("short (56 chars)", SHORT), ("long (10,000 chars)", LONG)):
            a, b = per_call_us(lambda: ours.encode(text)), per_call_us(lambda: ref.encode(text))
            fast = per_call_us(lambda: ours.encode(text, offsets=False))
            n = len(ref.encode(text).ids)
            rows.append({"config": name, "input": label, "edgepack_us": a, "tokenizers_us": b, "ratio": a / b,
                         "ids_only_us": fast, "tokens": n, "edgepack_tok_s": n / a * 1e6,
                         "ids_only_tok_s": n / fast * 1e6, "tokenizers_tok_s": n / b * 1e6,
                         "same_ids": ours.encode(text).ids == ref.encode(text).ids})
    if "--json" in sys.argv:
        print(json.dumps({"python": platform.python_version(), "tokenizers": tokenizers.__version__, "rows": rows}, indent=1))
        return
    print(f"Python {platform.python_version()}, tokenizers {tokenizers.__version__}")
    print("| config | input | tokens | edgepack Python (µs/encode) | tokenizers (µs/encode) | ratio | "
          "edgepack tokens/s | ids only tokens/s | tokenizers tokens/s | same ids |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['input']} | {r['tokens']} | {r['edgepack_us']:.1f} | {r['tokenizers_us']:.1f} | "
              f"{r['ratio']:.2f}x | {r['edgepack_tok_s']:,.0f} | {r['ids_only_tok_s']:,.0f} | "
              f"{r['tokenizers_tok_s']:,.0f} | {'yes' if r['same_ids'] else '**no**'} |")


if __name__ == "__main__":
    main()
