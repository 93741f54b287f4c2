"""`edgepack tokenize` and `node web/bin/tokenize.mjs` print the same bytes, on random Unicode too.

This also carries the property test over to JS: Python equals the reference (test_property.py),
and JS equals Python here on random text, including lone surrogates and invalid UTF-8.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess

import pytest
from click.testing import CliRunner
from tests.tokenizer.golden_support import GOLDEN, HERE

from edgepack.cli import cli
from edgepack.runtime.tokenizer.cli import run

ROOT = HERE.parents[1]
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup.sh installs it)")
CONFIGS = ["bert_uncased", "template_pairs", "sample_wordlevel", "added_tokens", "nfkd_contiguous", "roberta_bpe", "gpt2_bpe",
           "llama_byte_fallback", "llama3_split_bpe", "xlmr_unigram"]
TRICKY = list("aé\u0301\u0323\u0307 \u00a0\u3000\u200b\u200d\x00\t!?.,'日本ｶﾞﬁ①٣👍🏽\U0002b820\u2581\u0120ไทย") + [
    "[CLS]", "[MASK]", "<mask>", "<s>", "</s>", "\r\n", "'ll"]


def _random_lines(seed: int, n: int) -> bytes:
    rng = random.Random(seed)

    def text():
        parts = []
        for _ in range(rng.randint(0, 25)):
            r = rng.random()
            if r < 0.5:
                parts.append(rng.choice(TRICKY))
            elif r < 0.97:
                parts.append(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0, 0x2fff), rng.randint(0, 0x10ffff)])))
            else:
                parts.append(chr(rng.randint(0xD800, 0xDFFF)))  # lone surrogate, JSON-escaped below
        return "".join(parts)

    lines = []
    for k in range(n):
        item = text() if k % 3 else {"text": text(), "pair": text() if k % 2 else None}
        lines.append(json.dumps(item, ensure_ascii=True))
    body = "\n".join(lines).encode("ascii")
    # raw invalid UTF-8 inside JSON strings: defined as U+FFFD replacement in both CLIs
    return body + b'\n"bad \xff\xfe \xe2\x82 x \xf0\x9f\x98 \xed\xa0\x80 \xc0\xaf end"\n'


def _py_cli(spec, data: bytes, *flags) -> bytes:
    out = io.StringIO()
    run(str(spec), io.BytesIO(data), out, add_special_tokens="--no-special-tokens" not in flags, batch="--batch" in flags)
    return out.getvalue().encode("utf-8")


def _node_cli(spec, data: bytes, *flags) -> subprocess.CompletedProcess:
    return subprocess.run([NODE, str(ROOT / "web/bin/tokenize.mjs"), str(spec), *flags], input=data,
                          capture_output=True, timeout=120)


@needs_node
@pytest.mark.parametrize("name", CONFIGS)
def test_python_and_node_clis_print_identical_bytes(name):
    spec = GOLDEN / f"{name}.tokenizer.json"
    data = _random_lines(seed=len(name), n=int(os.environ.get("TOKENIZER_CLI_LINES", "600")))
    for flags in [(), ("--no-special-tokens",), ("--batch",)]:
        want = _py_cli(spec, data, *flags)
        got = _node_cli(spec, data, *flags)
        assert got.returncode == 0, got.stderr.decode()
        if got.stdout != want:
            w, g = want.splitlines(), got.stdout.splitlines()
            k = next(i for i in range(min(len(w), len(g))) if w[i] != g[i]) if len(w) == len(g) else -1
            pytest.fail(f"{name} {flags}: first differing line {k}\n py: {w[k][:400]!r}\n js: {g[k][:400]!r}")


def test_edgepack_tokenize_command(tmp_path):
    spec = GOLDEN / "bert_uncased.tokenizer.json"
    runner = CliRunner()
    res = runner.invoke(cli, ["tokenize", str(spec)], input='"Hello, world!"\n{"text": "a", "pair": "b"}\n')
    assert res.exit_code == 0, res.output
    first, second = [json.loads(line) for line in res.output.splitlines()]
    assert first["tokens"][0] == "[CLS]" and first["offsets"][1][0] == 0 and first["offsets"][-2] == [12, 13]
    assert set(first) >= {"ids", "attention_mask", "token_type_ids", "tokens", "offsets"}
    assert second["token_type_ids"][-1] == 1
    # a directory holding tokenizer.json works too
    (tmp_path / "tokenizer.json").write_bytes(spec.read_bytes())
    assert runner.invoke(cli, ["tokenize", str(tmp_path)], input='"Hello, world!"\n').output.splitlines()[0] == \
        res.output.splitlines()[0]
    bad = runner.invoke(cli, ["tokenize", str(spec)], input='"ok"\n{"nope": 1}\n')
    assert bad.exit_code == 2 and "stdin line 2" in bad.output


@needs_node
def test_node_cli_errors_are_clear(tmp_path):
    bad = tmp_path / "tok.json"
    bad.write_text(json.dumps({"version": "1.0", "model": {"type": "Unigram"}}), encoding="utf-8")
    res = _node_cli(bad, b'"x"\n')
    assert res.returncode == 2
    assert "model.vocab is required" in res.stderr.decode()
    res = _node_cli(GOLDEN / "bert_uncased.tokenizer.json", b'"ok"\n{"nope": 1}\n')
    assert res.returncode == 2 and "stdin line 2" in res.stderr.decode()
