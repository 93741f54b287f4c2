"""Make this sample's Hugging Face / sentence-transformers folder (model/) deterministically, in seconds.

A MiniLM-style sentence embedder, tiny (BERT, 2 layers, hidden 64), with a WordPiece vocabulary built
from the seed's sentiment corpus (../sentiment/train.tsv). It is trained so that the mean-pooled,
L2-normalised embedding of a text lies near a learned direction per sentiment (a cosine-softmax head
that is thrown away), so similarities reflect tone and shared words: a demo model, not a general
embedder. Saved like a sentence-transformers checkpoint: config.json, model.safetensors,
tokenizer.json, tokenizer_config.json, modules.json, 1_Pooling/config.json, 2_Normalize/,
sentence_bert_config.json. Needs the hf extra. Run: python make_model.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # tiny_hf: what the tiny Hugging Face samples share

import tiny_hf  # noqa: E402  (first: it sets the offline/threads environment)
from transformers import BertConfig, BertModel  # noqa: E402

OUT = HERE / "model"
MAX_POSITIONS = 128
SCALE = 20.0  # cosine-softmax temperature of the training head


def main() -> None:
    tiny_hf.seed()
    labels = ["Negative", "Neutral", "Positive"]
    train, heldout = tiny_hf.corpus()
    tok = tiny_hf.wordpiece_tokenizer([t for t, _ in train])
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=MAX_POSITIONS, pad_token_id=0)
    model = tiny_hf.Embedder(BertModel(config, add_pooling_layer=False), len(labels), SCALE)
    acc = tiny_hf.fit(model, tok, train, heldout, labels)
    tiny_hf.save(OUT, model, tok, MAX_POSITIONS, tiny_hf.BERT_SPECIAL_TOKENS)
    tiny_hf.write_sentence_transformers_files(OUT, config.hidden_size, MAX_POSITIONS)
    tiny_hf.report(acc, train, heldout)


if __name__ == "__main__":
    main()
