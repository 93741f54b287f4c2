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

import json
import os
import random
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast  # noqa: E402

HERE = Path(__file__).parent
CORPUS = HERE.parent / "sentiment"
OUT = HERE / "model"
EPOCHS, LR, BATCH, MIN_ACCURACY, SCALE = 6, 1e-3, 32, 0.85, 20.0
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


class Trainer(torch.nn.Module):
    """Encoder + mean pooling + L2 (exactly what the exported graph computes) + cosine-softmax head."""

    def __init__(self, encoder, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.prototypes = torch.nn.Parameter(torch.randn(n_classes, encoder.config.hidden_size))

    def embed(self, ids, mask):
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)

    def forward(self, ids, mask):
        return SCALE * self.embed(ids, mask) @ torch.nn.functional.normalize(self.prototypes, dim=-1).T


@torch.inference_mode()
def accuracy(model, tok, rows, labels) -> float:
    model.eval()
    right = 0
    for ids, mask, y in batches(tok, rows, labels, list(range(len(rows)))):
        right += int((model(ids, mask).argmax(-1) == y).sum())
    return right / len(rows)


def write_sentence_transformers_files(dim: int) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (OUT / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (OUT / "1_Pooling").mkdir(exist_ok=True)
    (OUT / "2_Normalize").mkdir(exist_ok=True)
    (OUT / "2_Normalize" / "config.json").write_text("{}\n")  # git keeps no empty folders
    (OUT / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": dim, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
         "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, indent=2) + "\n")
    (OUT / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": MAX_POSITIONS,
                                                               "do_lower_case": False}, indent=2) + "\n")


def main() -> None:
    torch.manual_seed(0)
    random.seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    labels = ["Negative", "Neutral", "Positive"]
    train, heldout = read_tsv(CORPUS / "train.tsv"), read_tsv(CORPUS / "heldout.tsv")
    tok = train_tokenizer([t for t, _ in train])
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=MAX_POSITIONS, pad_token_id=0)
    model = Trainer(BertModel(config, add_pooling_layer=False), len(labels))
    optim = torch.optim.AdamW(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = list(range(len(train)))
    for epoch in range(EPOCHS):
        random.shuffle(order)
        model.train()
        for ids, mask, y in batches(tok, train, labels, order):
            optim.zero_grad()
            loss_fn(model(ids, mask), y).backward()
            optim.step()
        acc = accuracy(model, tok, heldout, labels)
        print(f"epoch {epoch + 1}: held-out nearest-prototype accuracy {acc:.2%}")
    if acc < MIN_ACCURACY:
        raise SystemExit(f"held-out accuracy {acc:.2%} is below the {MIN_ACCURACY:.0%} this sample promises")
    OUT.mkdir(exist_ok=True)
    model.encoder.eval().save_pretrained(OUT, safe_serialization=True)
    tok.save(str(OUT / "tokenizer.json"))
    PreTrainedTokenizerFast(tokenizer_file=str(OUT / "tokenizer.json"), unk_token="[UNK]", pad_token="[PAD]",
                            cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                            model_max_length=MAX_POSITIONS).save_pretrained(OUT)
    write_sentence_transformers_files(config.hidden_size)
    print(json.dumps({"heldout_accuracy": round(acc, 4), "train": len(train), "heldout": len(heldout)}))


if __name__ == "__main__":
    main()
