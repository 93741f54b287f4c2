"""Train this zoo sample deterministically (seconds) and write tokenizer.json + model.safetensors.

The corpus and the word-level tokenizer are the seed's (../sentiment), reused by path so the zoo's
architectures are compared on the same data. Needs the test extra (Hugging Face `tokenizers`
reads the tokenizer at training time; the runtime uses edgepack's own implementation).
Run: python train.py   (prints held-out accuracy)
"""

from __future__ import annotations

import json
import random
import sys
import tomllib
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

HERE = Path(__file__).parent
CORPUS = HERE.parent / "sentiment"
sys.path.insert(0, str(HERE))
from model import TransformerClassifier as Model  # noqa: E402

EPOCHS, LR, MIN_ACCURACY = 6, 3e-3, 0.85


def read_tsv(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(line.split("\t")) for line in lines if line]


def encode(tok: Tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tok.encode_batch(texts)
    return torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])


@torch.inference_mode()
def evaluate(model, tok, rows, labels) -> float:
    model.eval()
    ids, mask = encode(tok, [t for t, _ in rows])
    pred = model(ids, mask).argmax(-1)
    gold = torch.tensor([labels.index(l) for _, l in rows])
    return (pred == gold).float().mean().item()


def main() -> None:
    torch.manual_seed(0)
    random.seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    config = tomllib.loads((HERE / "edgepack.toml").read_text())
    labels = config["labels"]
    train, heldout = read_tsv(CORPUS / "train.tsv"), read_tsv(CORPUS / "heldout.tsv")
    tok = Tokenizer.from_file(str(CORPUS / "tokenizer.json"))
    args = dict(config["model"]["args"])
    model = Model(**args)
    optim = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = list(range(len(train)))
    for epoch in range(EPOCHS):
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
    if acc < MIN_ACCURACY:
        raise SystemExit(f"held-out accuracy {acc:.2%} is below the {MIN_ACCURACY:.0%} this sample promises")
    tok.save(str(HERE / "tokenizer.json"))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(HERE / "model.safetensors"), metadata={"heldout_accuracy": f"{acc:.4f}"})
    print(json.dumps({"heldout_accuracy": round(acc, 4), "train": len(train), "heldout": len(heldout)}))


if __name__ == "__main__":
    main()
