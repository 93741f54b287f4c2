"""Make this sample's Hugging Face / sentence-transformers folder (model/) deterministically, in about a minute.

A tiny XLM-RoBERTa sentence embedder (2 layers, hidden 64) whose tokenizer is built the way
transformers converts XLM-R's sentencepiece.bpe.model: a SentencePiece Unigram model is trained here
(the `sentencepiece` package, nmt_nfkc rules) on the seed's sentiment corpus (../sentiment/train.tsv),
and its pieces, scores and precompiled normalisation charsmap become a tokenizer.json with
Precompiled + Replace normalizers, a Metaspace pre-tokenizer and XLM-R's <s> A </s></s> B </s>
template. Trained like ../minilm-embedder (mean-pooled, L2-normalised embeddings near a learned
direction per sentiment; the cosine-softmax head is thrown away). Saved like a sentence-transformers
checkpoint: config.json, model.safetensors, tokenizer.json, tokenizer_config.json, modules.json,
1_Pooling/config.json, 2_Normalize/, sentence_bert_config.json.
Needs the hf and test extras (sentencepiece). Run: python make_model.py
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))  # golden_modern._fields: the one protobuf reader

import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402
from golden_modern import _fields  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel  # noqa: E402

CORPUS = HERE.parent / "sentiment"
OUT = HERE / "model"
EPOCHS, LR, BATCH, MIN_ACCURACY, SCALE = 6, 1e-3, 32, 0.85, 20.0
MAX_TOKENS = 128
VOCAB_SIZE = 1000


def read_tsv(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(line.split("\t")) for line in lines if line]


def train_tokenizer(texts: list[str]) -> Tokenizer:
    """SentencePiece Unigram -> tokenizer.json, as transformers' XLMRobertaConverter writes it. The
    special ids are XLM-R's (<s> 0, <pad> 1, </s> 2, <unk> 3; <mask> last)."""
    with tempfile.TemporaryDirectory() as tmp:
        prefix, text = Path(tmp) / "spm", Path(tmp) / "corpus.txt"
        text.write_text("\n".join(texts), encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(text), model_prefix=str(prefix), model_type="unigram", vocab_size=VOCAB_SIZE,
            hard_vocab_limit=False, bos_id=0, pad_id=1, eos_id=2, unk_id=3, num_threads=1, minloglevel=2,
            character_coverage=1.0, normalization_rule_name="nmt_nfkc", input_sentence_size=0,
            shuffle_input_sentence=False)
        proto = prefix.with_suffix(".model").read_bytes()
    sp = spm.SentencePieceProcessor(model_proto=proto)
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    for i, special in enumerate(("<s>", "<pad>", "</s>", "<unk>")):
        vocab[i] = (special, 0.0)
    normalizer_spec = next(v for f, w, v in _fields(proto) if f == 3 and w == 2)
    charsmap = next(v for f, w, v in _fields(normalizer_spec) if f == 2 and w == 2)
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap),
                                           normalizers.Replace(Regex(" {2,}"), "\u2581")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return tok


def batches(tok, rows, labels, order, pad_id):
    for start in range(0, len(order), BATCH):
        chunk = [rows[i] for i in order[start:start + BATCH]]
        enc = tok.encode_batch([t for t, _ in chunk])
        width = max(len(e.ids) for e in enc)
        ids = torch.tensor([e.ids + [pad_id] * (width - len(e.ids)) for e in enc])
        mask = torch.tensor([e.attention_mask + [0] * (width - len(e.ids)) for e in enc])
        yield ids, mask, torch.tensor([labels.index(label) for _, label in chunk])


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
def accuracy(model, tok, rows, labels, pad_id) -> float:
    model.eval()
    right = 0
    for ids, mask, y in batches(tok, rows, labels, list(range(len(rows))), pad_id):
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
    (OUT / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": MAX_TOKENS,
                                                               "do_lower_case": False}, indent=2) + "\n")


def main() -> None:
    torch.manual_seed(0)
    random.seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    labels = ["Negative", "Neutral", "Positive"]
    train, heldout = read_tsv(CORPUS / "train.tsv"), read_tsv(CORPUS / "heldout.tsv")
    tok = train_tokenizer([t for t, _ in train])
    pad = tok.token_to_id("<pad>")
    config = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=128, max_position_embeddings=MAX_TOKENS + pad + 1, type_vocab_size=1,
                              pad_token_id=pad, bos_token_id=0, eos_token_id=2)
    model = Trainer(XLMRobertaModel(config, add_pooling_layer=False), len(labels))
    optim = torch.optim.AdamW(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = list(range(len(train)))
    for epoch in range(EPOCHS):
        random.shuffle(order)
        model.train()
        for ids, mask, y in batches(tok, train, labels, order, pad):
            optim.zero_grad()
            loss_fn(model(ids, mask), y).backward()
            optim.step()
        acc = accuracy(model, tok, heldout, labels, pad)
        print(f"epoch {epoch + 1}: held-out nearest-prototype accuracy {acc:.2%}")
    if acc < MIN_ACCURACY:
        raise SystemExit(f"held-out accuracy {acc:.2%} is below the {MIN_ACCURACY:.0%} this sample promises")
    OUT.mkdir(exist_ok=True)
    model.encoder.eval().save_pretrained(OUT, safe_serialization=True)
    tok.save(str(OUT / "tokenizer.json"))
    PreTrainedTokenizerFast(tokenizer_file=str(OUT / "tokenizer.json"), bos_token="<s>", eos_token="</s>",
                            unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>",
                            mask_token="<mask>", model_max_length=MAX_TOKENS).save_pretrained(OUT)
    write_sentence_transformers_files(config.hidden_size)
    print(json.dumps({"heldout_accuracy": round(acc, 4), "train": len(train), "heldout": len(heldout),
                      "vocab": tok.get_vocab_size()}))


if __name__ == "__main__":
    main()
