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

import json
import os
import random
import sys
import tomllib
from collections import Counter
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))  # golden_modern.train_bpe: the one deterministic BPE trainer

import torch  # noqa: E402
from golden_modern import train_bpe  # noqa: E402
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors  # noqa: E402
from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForSequenceClassification  # noqa: E402

CORPUS = HERE.parent / "sentiment"
OUT = HERE / "model"
EPOCHS, LR, BATCH, MIN_ACCURACY = 6, 1e-3, 32, 0.85
MAX_TOKENS = 128
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # RoBERTa's ids 0..3; <mask> is added last
VOCAB_SIZE = 1000


def read_tsv(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(line.split("\t")) for line in lines if line]


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


def batches(tok, rows, labels, order, pad_id):
    for start in range(0, len(order), BATCH):
        chunk = [rows[i] for i in order[start:start + BATCH]]
        enc = tok.encode_batch([t for t, _ in chunk])
        width = max(len(e.ids) for e in enc)
        ids = torch.tensor([e.ids + [pad_id] * (width - len(e.ids)) for e in enc])
        mask = torch.tensor([e.attention_mask + [0] * (width - len(e.ids)) for e in enc])
        yield ids, mask, torch.tensor([labels.index(label) for _, label in chunk])


@torch.inference_mode()
def accuracy(model, tok, rows, labels, pad_id) -> float:
    model.eval()
    right = 0
    for ids, mask, y in batches(tok, rows, labels, list(range(len(rows))), pad_id):
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
    pad = tok.token_to_id("<pad>")
    config = RobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=128, max_position_embeddings=MAX_TOKENS + pad + 1, type_vocab_size=1,
                           pad_token_id=pad, bos_token_id=tok.token_to_id("<s>"), eos_token_id=tok.token_to_id("</s>"),
                           id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)})
    model = RobertaForSequenceClassification(config)
    optim = torch.optim.AdamW(model.parameters(), lr=LR)
    order = list(range(len(train)))
    for epoch in range(EPOCHS):
        random.shuffle(order)
        model.train()
        for ids, mask, y in batches(tok, train, labels, order, pad):
            optim.zero_grad()
            model(input_ids=ids, attention_mask=mask, labels=y).loss.backward()
            optim.step()
        acc = accuracy(model, tok, heldout, labels, pad)
        print(f"epoch {epoch + 1}: held-out accuracy {acc:.2%}")
    if acc < MIN_ACCURACY:
        raise SystemExit(f"held-out accuracy {acc:.2%} is below the {MIN_ACCURACY:.0%} this sample promises")
    OUT.mkdir(exist_ok=True)
    model.eval().save_pretrained(OUT, safe_serialization=True)
    tok.save(str(OUT / "tokenizer.json"))
    PreTrainedTokenizerFast(tokenizer_file=str(OUT / "tokenizer.json"), bos_token="<s>", eos_token="</s>",
                            unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>",
                            mask_token="<mask>", model_max_length=MAX_TOKENS).save_pretrained(OUT)
    print(json.dumps({"heldout_accuracy": round(acc, 4), "train": len(train), "heldout": len(heldout),
                      "vocab": tok.get_vocab_size()}))


if __name__ == "__main__":
    main()
