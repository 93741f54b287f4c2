"""Make this sample's Hugging Face-format folder (model/) deterministically, in well under a minute.

A tiny BERT (2 layers, hidden 64) with a WordPiece vocabulary built from the seed's sentiment corpus (../sentiment/train.tsv), fine-tuned as a 3-class sequence
classifier and saved with `save_pretrained` (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json) -- the same layout as a checkpoint downloaded from the Hub.
Needs the hf and test extras. Run: python make_model.py   (prints held-out accuracy)
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # tiny_hf: what the tiny Hugging Face samples share

import tiny_hf  # noqa: E402  (first: it sets the offline/threads environment)
from transformers import BertConfig, BertForSequenceClassification  # noqa: E402

OUT = HERE / "model"
MAX_POSITIONS = 128


def main() -> None:
    tiny_hf.seed()
    labels = tomllib.loads((HERE / "edgepack.toml").read_text())["labels"]
    train, heldout = tiny_hf.corpus()
    tok = tiny_hf.wordpiece_tokenizer([t for t, _ in train])
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=MAX_POSITIONS, pad_token_id=0,
                        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)})
    model = BertForSequenceClassification(config)
    acc = tiny_hf.fit(model, tok, train, heldout, labels)
    tiny_hf.save(OUT, model, tok, MAX_POSITIONS, tiny_hf.BERT_SPECIAL_TOKENS)
    tiny_hf.report(acc, train, heldout)


if __name__ == "__main__":
    main()
