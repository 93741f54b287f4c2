from __future__ import annotations

import sys

import click


@click.command()
@click.argument("spec", type=click.Path(exists=True))
@click.option("--no-special-tokens", is_flag=True, help="Do not add the post-processor's special tokens.")
@click.option("--batch", is_flag=True, help="Encode all input lines as one batch (BatchLongest padding spans them).")
def tokenize(spec, no_special_tokens, batch):
    """Tokenize JSON lines from stdin with a tokenizer.json (edgepack's pure-Python implementation).

    SPEC is a tokenizer.json file or a directory holding one (e.g. a build directory). Each stdin
    line is a JSON string or {"text": ..., "pair": ...}; each output line is a JSON object with
    ids, attention_mask, token_type_ids, special_tokens_mask, tokens and offsets (code points).
    `node web/bin/tokenize.mjs SPEC` is the JavaScript twin and prints the same bytes.
    Invalid UTF-8 on stdin is replaced by U+FFFD (one per maximal invalid subsequence).

    \b
    Example:
      echo '"Hello, world!"' | edgepack tokenize samples/sentiment/tokenizer.json
      echo '{"text": "a question?", "pair": "an answer."}' | edgepack tokenize build/
    """
    from edgepack.runtime.tokenizer.cli import run

    sys.exit(run(spec, sys.stdin.buffer, sys.stdout, add_special_tokens=not no_special_tokens, batch=batch))
