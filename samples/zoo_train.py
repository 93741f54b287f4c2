"""The zoo samples' trainer: deterministic (seconds), on the seed's corpus and word-level tokenizer.

Run: python samples/zoo_train.py gru|bilstm|textcnn|transformer   (writes that sample's
tokenizer.json + model.safetensors, prints held-out accuracy). One loop and one table of settings
for the four zoo samples, so the architectures are compared on the same data with the same procedure. Needs the test extra (Hugging Face `tokenizers` reads the tokenizer at training
time; the runtime uses edgepack's own implementation).
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import tomllib
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

SAMPLES = Path(__file__).parent
# sample -> (model class in its model.py, epochs, learning rate, minimum held-out accuracy)
SETTINGS = {
    "gru": ("GRUClassifier", 4, 1e-2, 0.85),
    "bilstm": ("BiLSTMClassifier", 4, 1e-2, 0.85),
    "textcnn": ("TextCNN", 4, 1e-2, 0.85),
    "transformer": ("TransformerClassifier", 6, 3e-3, 0.85),
}


def seed() -> None:
    """Same random numbers, same kernels, one thread: the saved weights are the same bytes every run."""
    torch.manual_seed(0)
    random.seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


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
    gold = torch.tensor([labels.index(label) for _, label in rows])
    return (pred == gold).float().mean().item()


def fit(model, tok, train, heldout, labels, epochs: int, lr: float, min_accuracy: float) -> float:
    """Adam on shuffled batches of 32, cross-entropy on model(ids, mask); return the last held-out
    accuracy, refusing (SystemExit) one below ``min_accuracy``. Also sentiment/train.py's loop."""
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = list(range(len(train)))
    for epoch in range(epochs):
        random.shuffle(order)
        model.train()
        total = 0.0
        for start in range(0, len(order), 32):
            batch = [train[i] for i in order[start:start + 32]]
            ids, mask = encode(tok, [t for t, _ in batch])
            y = torch.tensor([labels.index(label) for _, label in batch])
            optim.zero_grad()
            loss = loss_fn(model(ids, mask), y)
            loss.backward()
            optim.step()
            total += loss.item() * len(batch)
        acc = evaluate(model, tok, heldout, labels)
        print(f"epoch {epoch + 1}: train loss {total / len(train):.4f}  held-out accuracy {acc:.2%}")
    if acc < min_accuracy:
        raise SystemExit(f"held-out accuracy {acc:.2%} is below the {min_accuracy:.0%} this sample promises")
    return acc


def save(here: Path, tok: Tokenizer, model, acc: float) -> None:
    """here/tokenizer.json + here/model.safetensors (held-out accuracy in its metadata)."""
    tok.save(str(here / "tokenizer.json"))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(here / "model.safetensors"), metadata={"heldout_accuracy": f"{acc:.4f}"})


def train(here: Path, Model, epochs: int, lr: float, min_accuracy: float = 0.85) -> None:
    """Train ``Model`` (built from here/edgepack.toml [model] args) and write here/tokenizer.json +
    here/model.safetensors; refuse to write a model below ``min_accuracy`` held-out accuracy."""
    corpus = here.parent / "sentiment"
    seed()
    config = tomllib.loads((here / "edgepack.toml").read_text())
    labels = config["labels"]
    train, heldout = read_tsv(corpus / "train.tsv"), read_tsv(corpus / "heldout.tsv")
    tok = Tokenizer.from_file(str(corpus / "tokenizer.json"))
    model = Model(**dict(config["model"]["args"]))
    acc = fit(model, tok, train, heldout, labels, epochs, lr, min_accuracy)
    save(here, tok, model, acc)
    print(json.dumps({"heldout_accuracy": round(acc, 4), "train": len(train), "heldout": len(heldout)}))


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in SETTINGS:
        raise SystemExit(f"usage: python zoo_train.py {{{'|'.join(SETTINGS)}}}")
    name = argv[0]
    cls, epochs, lr, min_accuracy = SETTINGS[name]
    here = SAMPLES / name
    spec = importlib.util.spec_from_file_location(f"zoo_{name}_model", here / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train(here, getattr(module, cls), epochs, lr, min_accuracy)


if __name__ == "__main__":
    main(sys.argv[1:])
