"""What the four tiny Hugging Face samples' make_model.py scripts share.

bert-classifier, minilm-embedder, roberta-classifier and xlmr-embedder each train a 2-layer,
hidden-64 transformer on the seed's sentiment corpus (sentiment/train.tsv, judged on heldout.tsv)
and save it as a Hub-style folder. Each script says what is its own (tokenizer, architecture,
special tokens); the batching, training loop, accuracy gate and file writing live here, once, so
that the samples differ only where the models do. Seeding and the corpus reader are zoo_train's,
the same for every sample. Every file the scripts write must stay byte-identical from run to
run: nothing here may consume random numbers or reorder writes without regenerating all four.

Imported by the scripts as ``tiny_hf`` (they put this folder on sys.path). Importing it sets the
environment before tokenizers/transformers load: offline Hub, one tokenizers thread.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["RAYON_NUM_THREADS"] = "1"  # one tokenizers thread: nothing depends on scheduling
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import torch  # noqa: E402
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import PreTrainedTokenizerFast  # noqa: E402
from zoo_train import read_tsv, seed  # noqa: E402,F401  (the samples' one seeding and corpus reader)

CORPUS = Path(__file__).parent / "sentiment"
EPOCHS, LR, BATCH, MIN_ACCURACY = 6, 1e-3, 32, 0.85
WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# The BERT samples' special tokens, as PreTrainedTokenizerFast takes them (order kept: it is written).
BERT_SPECIAL_TOKENS = dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                           mask_token="[MASK]")
# RoBERTa's and XLM-R's (<s> 0, <pad> 1, </s> 2, <unk> 3, <mask> last).
ROBERTA_SPECIAL_TOKENS = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                              cls_token="<s>", sep_token="</s>", mask_token="<mask>")


def corpus() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, heldout) rows of (text, label) from the sentiment sample."""
    return read_tsv(CORPUS / "train.tsv"), read_tsv(CORPUS / "heldout.tsv")


def wordpiece_tokenizer(texts: list[str], words: int = 800) -> Tokenizer:
    """A WordPiece vocabulary: every character (alone and as ##continuation) plus the most frequent
    words. Built here rather than by tokenizers' WordPieceTrainer, whose tie-breaking between equally
    frequent merges changes from run to run (Rust hash seeds): the samples must be reproducible."""
    tok = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: dict[str, int] = {}
    for text in texts:
        for word, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text)):
            counts[word] = counts.get(word, 0) + 1
    chars = sorted({c for w in counts for c in w})
    frequent = sorted((w for w in counts if len(w) > 1), key=lambda w: (-counts[w], w))[:words]
    vocab = {t: i for i, t in enumerate(WORDPIECE_SPECIALS + chars + ["##" + c for c in chars] + frequent)}
    tok.model = models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100)
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def batches(tok, rows, labels, order, pad_id):
    """(input_ids, attention_mask, label indices) for rows[order], BATCH at a time, padded with pad_id."""
    for start in range(0, len(order), BATCH):
        chunk = [rows[i] for i in order[start:start + BATCH]]
        enc = tok.encode_batch([t for t, _ in chunk])
        width = max(len(e.ids) for e in enc)
        ids = torch.tensor([e.ids + [pad_id] * (width - len(e.ids)) for e in enc])
        mask = torch.tensor([e.attention_mask + [0] * (width - len(e.ids)) for e in enc])
        yield ids, mask, torch.tensor([labels.index(label) for _, label in chunk])


class Embedder(torch.nn.Module):
    """Encoder + mean pooling + L2 (exactly what the exported graph computes) + a cosine-softmax head
    over one learned direction per label; only the encoder is saved."""

    def __init__(self, encoder, n_classes: int, scale: float = 20.0):
        super().__init__()
        self.encoder = encoder
        self.scale = scale  # a plain float, not a parameter: the head is thrown away
        self.prototypes = torch.nn.Parameter(torch.randn(n_classes, encoder.config.hidden_size))

    def embed(self, ids, mask):
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)

    def forward(self, ids, mask):
        return self.scale * self.embed(ids, mask) @ torch.nn.functional.normalize(self.prototypes, dim=-1).T


def _logits(model, ids, mask):
    if isinstance(model, Embedder):
        return model(ids, mask)
    return model(input_ids=ids, attention_mask=mask).logits


@torch.inference_mode()
def accuracy(model, tok, rows, labels, pad_id) -> float:
    model.eval()
    right = 0
    for ids, mask, y in batches(tok, rows, labels, list(range(len(rows))), pad_id):
        right += int((_logits(model, ids, mask).argmax(-1) == y).sum())
    return right / len(rows)


def fit(model, tok, train, heldout, labels, pad_id: int = 0) -> float:
    """Train ``model`` (a *ForSequenceClassification, or an Embedder) with AdamW for EPOCHS epochs on
    shuffled batches; return the last held-out accuracy, refusing (SystemExit) one below MIN_ACCURACY.
    A classifier computes its own loss from labels= (which also records config.problem_type, a
    field of the saved config.json); an Embedder's logits go through cross-entropy here."""
    embedder = isinstance(model, Embedder)
    optim = torch.optim.AdamW(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = list(range(len(train)))
    for epoch in range(EPOCHS):
        random.shuffle(order)
        model.train()
        for ids, mask, y in batches(tok, train, labels, order, pad_id):
            optim.zero_grad()
            if embedder:
                loss = loss_fn(model(ids, mask), y)
            else:
                loss = model(input_ids=ids, attention_mask=mask, labels=y).loss
            loss.backward()
            optim.step()
        acc = accuracy(model, tok, heldout, labels, pad_id)
        what = "nearest-prototype accuracy" if embedder else "accuracy"
        print(f"epoch {epoch + 1}: held-out {what} {acc:.2%}")
    if acc < MIN_ACCURACY:
        raise SystemExit(f"held-out accuracy {acc:.2%} is below the {MIN_ACCURACY:.0%} this sample promises")
    return acc


def save(out: Path, model, tok: Tokenizer, max_length: int, special_tokens: dict[str, str]) -> None:
    """``out`` as the Hub has it: config.json + model.safetensors (save_pretrained), tokenizer.json,
    tokenizer_config.json (PreTrainedTokenizerFast with these special tokens). An Embedder saves
    its encoder only."""
    out.mkdir(exist_ok=True)
    (model.encoder if isinstance(model, Embedder) else model).eval().save_pretrained(out, safe_serialization=True)
    tok.save(str(out / "tokenizer.json"))
    PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"), **special_tokens,
                            model_max_length=max_length).save_pretrained(out)


def write_sentence_transformers_files(out: Path, dim: int, max_seq_length: int) -> None:
    """modules.json, 1_Pooling/config.json (mean), 2_Normalize/ and sentence_bert_config.json."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "2_Normalize").mkdir(exist_ok=True)
    (out / "2_Normalize" / "config.json").write_text("{}\n")  # git keeps no empty folders
    (out / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": dim, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
         "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, indent=2) + "\n")
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length,
                                                               "do_lower_case": False}, indent=2) + "\n")


def report(acc: float, train, heldout, **extra) -> None:
    print(json.dumps({"heldout_accuracy": round(acc, 4), "train": len(train), "heldout": len(heldout), **extra}))
