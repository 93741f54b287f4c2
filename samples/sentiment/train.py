"""Train the sample deterministically and write tokenizer.json + model.safetensors.

Needs the test extra (Hugging Face `tokenizers` builds the word-level tokenizer.json; the
runtime tokenizes with edgepack's own implementation of the same spec).
Run: python train.py   (about a minute on 2 cores; prints held-out accuracy)
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # zoo_train: the one seeding, training loop and writer for these models
from model import SentimentClassifier  # noqa: E402
from zoo_train import fit, read_tsv, save, seed  # noqa: E402


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


def main() -> None:
    seed()
    config = tomllib.loads((HERE / "edgepack.toml").read_text())
    labels = config["labels"]
    train = read_tsv(HERE / "train.tsv")
    heldout = read_tsv(HERE / "heldout.tsv")
    tok = make_tokenizer([t for t, _ in train], config["max_length"])
    args = dict(config["model"]["args"])
    args["vocab_size"] = tok.get_vocab_size()
    model = SentimentClassifier(**args)
    acc = fit(model, tok, train, heldout, labels, epochs=5, lr=3e-3, min_accuracy=0.90)
    save(HERE, tok, model, acc)
    if config["model"]["args"].get("vocab_size") != args["vocab_size"]:
        print(f"note: set [model.args] vocab_size = {args['vocab_size']} in edgepack.toml")
    print(json.dumps({"heldout_accuracy": round(acc, 4), "vocab_size": args["vocab_size"],
                      "train": len(train), "heldout": len(heldout)}))


if __name__ == "__main__":
    main()
