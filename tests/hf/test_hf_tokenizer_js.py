"""The HF folders' tokenizer.json through edgepack's JS tokenizer (web/src/tokenizer.mjs, via
web/bin/tokenize.mjs in Node) gives Hugging Face `tokenizers`' ids -- the browser's half of
"same ids in Python, in JS and on aarch64" (the Python half is in test_hf_export / test_hf_samples)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.hf.hf_tiny import TEXTS

REPO = Path(__file__).resolve().parents[2]
EXTRA = ["Déjà vu?! Tokyo,Berlin;Paris", "\t tabs\nand newlines ", "中文字符 and ＦＵＬＬＷＩＤＴＨ", "don't stop-me now…",
         "ภาษาไทยไม่มีช่องว่าง हिन्दी", "ﬁne ①  two  spaces <mask>"]


def _heldout_texts(n: int = 300) -> list[str]:
    lines = (REPO / "samples" / "sentiment" / "heldout.tsv").read_text(encoding="utf-8").splitlines()[1:n + 1]
    return [line.split("\t")[0] for line in lines]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("spec", ["samples/minilm-embedder/model/tokenizer.json",
                                  "samples/bert-classifier/model/tokenizer.json", "tiny",
                                  "samples/roberta-classifier/model/tokenizer.json",  # byte-level BPE
                                  "samples/xlmr-embedder/model/tokenizer.json"])  # Unigram + Precompiled
def test_js_tokenizer_ids_equal_hugging_face(spec, bert_mean):
    from tokenizers import Tokenizer

    path = bert_mean[1] / "tokenizer.json" if spec == "tiny" else REPO / spec
    texts = TEXTS + EXTRA + _heldout_texts()
    proc = subprocess.run(["node", str(REPO / "web" / "bin" / "tokenize.mjs"), str(path)], capture_output=True,
                          text=True, input="".join(json.dumps(t) + "\n" for t in texts), timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = [json.loads(line) for line in proc.stdout.splitlines()]
    want = Tokenizer.from_file(str(path)).encode_batch(texts)
    assert len(got) == len(want)
    for text, g, w in zip(texts, got, want):
        assert g["ids"] == w.ids, text
        assert g["token_type_ids"] == w.type_ids, text
