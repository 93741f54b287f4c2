"""Make this sample's Hugging Face-format folder (model/) deterministically, in about a minute.

A tiny RoBERTa (2 layers, hidden 64) with a byte-level BPE tokenizer trained here on the seed's
sentiment corpus (../sentiment/train.tsv), fine-tuned as a 3-class sequence classifier and saved with
`save_pretrained` (config.json, model.safetensors, tokenizer.json, tokenizer_config.json): the layout
of a RoBERTa checkpoint from the Hub. What makes it RoBERTa rather than BERT, and what edgepack must
handle: positions numbered from pad_token_id + 1 (max_position_embeddings = 128 + 2), no
token_type_ids (type_vocab_size 1), <s> ... </s> added by RobertaProcessing, GPT-2 byte-level pieces.
Needs the hf and test extras. Run: python make_model.py   (prints held-out accuracy)
"""

from __future__ import annotations

import sys
import tomllib
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # tiny_hf: what the tiny Hugging Face samples share
sys.path.insert(0, str(HERE.parents[1] / "scripts"))  # golden_modern.train_bpe: the one deterministic BPE trainer

import tiny_hf  # noqa: E402  (first: it sets the offline/threads environment)
from golden_modern import train_bpe  # noqa: E402
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors  # noqa: E402
from transformers import RobertaConfig, RobertaForSequenceClassification  # noqa: E402

OUT = HERE / "model"
MAX_TOKENS = 128
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # RoBERTa's ids 0..3; <mask> is added last
VOCAB_SIZE = 1000


def train_tokenizer(texts: list[str]) -> Tokenizer:
    """Byte-level BPE as roberta-base's tokenizer.json has it (no prefix space, trimmed offsets).
    Merges come from golden_modern.train_bpe (ties broken by the pair): tokenizers' BpeTrainer breaks
    ties in hash order, and this sample must be reproducible."""
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True)
    words = Counter(w for text in texts for w, _ in pre.pre_tokenize_str(text))
    vocab, merges = train_bpe(words, sorted(pre_tokenizers.ByteLevel.alphabet()), SPECIALS, VOCAB_SIZE)
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS + [AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    return tok


def main() -> None:
    tiny_hf.seed()
    labels = tomllib.loads((HERE / "edgepack.toml").read_text())["labels"]
    train, heldout = tiny_hf.corpus()
    tok = train_tokenizer([t for t, _ in train])
    pad = tok.token_to_id("<pad>")
    config = RobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=128, max_position_embeddings=MAX_TOKENS + pad + 1, type_vocab_size=1,
                           pad_token_id=pad, bos_token_id=tok.token_to_id("<s>"), eos_token_id=tok.token_to_id("</s>"),
                           id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)})
    model = RobertaForSequenceClassification(config)
    acc = tiny_hf.fit(model, tok, train, heldout, labels, pad)
    tiny_hf.save(OUT, model, tok, MAX_TOKENS, tiny_hf.ROBERTA_SPECIAL_TOKENS)
    tiny_hf.report(acc, train, heldout, vocab=tok.get_vocab_size())


if __name__ == "__main__":
    main()
