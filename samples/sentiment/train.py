"""Train the sample deterministically and write tokenizer.json + model.safetensors.

Needs the test extra (Hugging Face `tokenizers` builds the word-level tokenizer.json; the
runtime tokenizes with edgepack's own implementation of the same spec).
Run: python train.py   (about a minute on 2 cores; prints held-out accuracy)
"""

from __future__ import annotations

import json
import random
import sys
import tomllib
from collections import Counter
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from model import SentimentClassifier  # noqa: E402


def read_tsv(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(line.split("\t")) for line in lines if line]


def make_tokenizer(texts: list[str], max_length: int) -> Tokenizer:
    normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    pre = pre_tokenizers.BertPreTokenizer()  # whitespace + punctuation split
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    vocab = {"[PAD]": 0, "[UNK]": 1}
    for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n >= 2:
            vocab[word] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.add_special_tokens(["[PAD]", "[UNK]"])
    tok.enable_truncation(max_length=max_length)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def encode(tok: Tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tok.encode_batch(texts)
    return torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])


def main() -> None:
    torch.manual_seed(0)
    random.seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    config = tomllib.loads((HERE / "edgepack.toml").read_text())
    labels = config["labels"]
    train = read_tsv(HERE / "train.tsv")
    heldout = read_tsv(HERE / "heldout.tsv")
    tok = make_tokenizer([t for t, _ in train], config["max_length"])
    args = dict(config["model"]["args"])
    args["vocab_size"] = tok.get_vocab_size()
    model = SentimentClassifier(**args)
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = list(range(len(train)))
    for epoch in range(5):
        random.shuffle(order)
        model.train()
        total = 0.0
        for start in range(0, len(order), 32):
            batch = [train[i] for i in order[start:start + 32]]
            ids, mask = encode(tok, [t for t, _ in batch])
            y = torch.tensor([labels.index(l) for _, l in batch])
            optim.zero_grad()
            loss = loss_fn(model(ids, mask), y)
            loss.backward()
            optim.step()
            total += loss.item() * len(batch)
        acc = evaluate(model, tok, heldout, labels)
        print(f"epoch {epoch + 1}: train loss {total / len(train):.4f}  held-out accuracy {acc:.2%}")
    if acc < 0.90:
        raise SystemExit(f"held-out accuracy {acc:.2%} is below the 90% the sample promises")
    tok.save(str(HERE / "tokenizer.json"))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(HERE / "model.safetensors"), metadata={"heldout_accuracy": f"{acc:.4f}"})
    if config["model"]["args"].get("vocab_size") != args["vocab_size"]:
        print(f"note: set [model.args] vocab_size = {args['vocab_size']} in edgepack.toml")
    print(json.dumps({"heldout_accuracy": round(acc, 4), "vocab_size": args["vocab_size"],
                      "train": len(train), "heldout": len(heldout)}))


@torch.inference_mode()
def evaluate(model, tok, rows, labels) -> float:
    model.eval()
    ids, mask = encode(tok, [t for t, _ in rows])
    pred = model(ids, mask).argmax(-1)
    gold = torch.tensor([labels.index(l) for _, l in rows])
    return (pred == gold).float().mean().item()


if __name__ == "__main__":
    main()
