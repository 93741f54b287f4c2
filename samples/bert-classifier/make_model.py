"""Make this sample's Hugging Face-format folder (model/) deterministically, in well under a minute.

A tiny BERT (2 layers, hidden 64) with a WordPiece vocabulary built from the seed's sentiment corpus (../sentiment/train.tsv), fine-tuned as a 3-class sequence
classifier and saved with `save_pretrained` (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json) -- the same layout as a checkpoint downloaded from the Hub.
Needs the hf and test extras. Run: python make_model.py   (prints held-out accuracy)
"""

from __future__ import annotations

import json
import os
import random
import tomllib
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast  # noqa: E402

HERE = Path(__file__).parent
CORPUS = HERE.parent / "sentiment"
OUT = HERE / "model"
EPOCHS, LR, BATCH, MIN_ACCURACY = 6, 1e-3, 32, 0.85
MAX_POSITIONS = 128
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB_WORDS = 800


def read_tsv(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(line.split("\t")) for line in lines if line]


def train_tokenizer(texts: list[str]) -> Tokenizer:
    """A WordPiece vocabulary: every character (alone and as ##continuation) plus the most frequent
    words. Built here rather than by tokenizers' WordPieceTrainer, whose tie-breaking between equally
    frequent merges changes from run to run (Rust hash seeds): this sample must be reproducible."""
    tok = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: dict[str, int] = {}
    for text in texts:
        for word, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text)):
            counts[word] = counts.get(word, 0) + 1
    chars = sorted({c for w in counts for c in w})
    words = sorted((w for w in counts if len(w) > 1), key=lambda w: (-counts[w], w))[:VOCAB_WORDS]
    vocab = {t: i for i, t in enumerate(SPECIALS + chars + ["##" + c for c in chars] + words)}
    tok.model = models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100)
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def batches(tok, rows, labels, order):
    for start in range(0, len(order), BATCH):
        chunk = [rows[i] for i in order[start:start + BATCH]]
        enc = tok.encode_batch([t for t, _ in chunk])
        width = max(len(e.ids) for e in enc)
        ids = torch.tensor([e.ids + [0] * (width - len(e.ids)) for e in enc])
        mask = torch.tensor([e.attention_mask + [0] * (width - len(e.ids)) for e in enc])
        yield ids, mask, torch.tensor([labels.index(l) for _, l in chunk])


@torch.inference_mode()
def accuracy(model, tok, rows, labels) -> float:
    model.eval()
    right = 0
    for ids, mask, y in batches(tok, rows, labels, list(range(len(rows)))):
        right += int((model(input_ids=ids, attention_mask=mask).logits.argmax(-1) == y).sum())
    return right / len(rows)


def main() -> None:
    torch.manual_seed(0)
    random.seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    labels = tomllib.loads((HERE / "edgepack.toml").read_text())["labels"]
    train, heldout = read_tsv(CORPUS / "train.tsv"), read_tsv(CORPUS / "heldout.tsv")
    tok = train_tokenizer([t for t, _ in train])
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=MAX_POSITIONS, pad_token_id=0,
                        id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    model = BertForSequenceClassification(config)
    optim = torch.optim.AdamW(model.parameters(), lr=LR)
    order = list(range(len(train)))
    for epoch in range(EPOCHS):
        random.shuffle(order)
        model.train()
        for ids, mask, y in batches(tok, train, labels, order):
            optim.zero_grad()
            model(input_ids=ids, attention_mask=mask, labels=y).loss.backward()
            optim.step()
        acc = accuracy(model, tok, heldout, labels)
        print(f"epoch {epoch + 1}: held-out accuracy {acc:.2%}")
    if acc < MIN_ACCURACY:
        raise SystemExit(f"held-out accuracy {acc:.2%} is below the {MIN_ACCURACY:.0%} this sample promises")
    OUT.mkdir(exist_ok=True)
    model.eval().save_pretrained(OUT, safe_serialization=True)
    tok.save(str(OUT / "tokenizer.json"))
    PreTrainedTokenizerFast(tokenizer_file=str(OUT / "tokenizer.json"), unk_token="[UNK]", pad_token="[PAD]",
                            cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                            model_max_length=MAX_POSITIONS).save_pretrained(OUT)
    print(json.dumps({"heldout_accuracy": round(acc, 4), "train": len(train), "heldout": len(heldout)}))


if __name__ == "__main__":
    main()
