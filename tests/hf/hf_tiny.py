"""Tiny, randomly initialised BERT-family folders in Hugging Face format, made by the tests.

A WordPiece vocabulary trained with ``tokenizers`` on a small corpus, a 2-layer encoder saved with
``save_pretrained`` (safetensors), and sentence-transformers' ``modules.json`` / ``1_Pooling``
when asked. Everything is seeded: the same call makes the same folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # the tests never reach the hub either
os.environ["TRANSFORMERS_OFFLINE"] = "1"

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a cat sat on the mat and looked at the dog",
    "machine learning models run on small devices at the edge",
    "sentence embeddings map similar texts to nearby vectors",
    "the weather is lovely today, let's walk in the park",
    "this movie was really great and amazing",
    "the service was terrible and the food was cold",
    "naïve café résumé — déjà vu, Ünïcödé!",
    "numbers like 42 and 3.14 appear too",
    "Berlin, Paris and Tokyo are large cities",
] * 5
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = [
    "the quick brown fox", "A cat sat on the mat.", "hello", "", "   ",
    "Machine LEARNING on the edge!!!", "naïve café 👍🏽 مرحبا", "unseenwordpiecesxyz qqq",
    "the weather is lovely today, let's walk in the park " * 3,
    "the cat and the dog " * 40,  # longer than any tiny model's positions: truncated
]


def train_tokenizer(path: Path, vocab_size: int = 300):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None, clean_text=True,
                                                handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.save(str(path))
    return tok


def make_folder(out: Path, kind: str = "bert", task: str = "feature-extraction", pooling=None,
                legacy_pooling: bool = False, normalize: bool = True, num_labels: int = 3,
                max_positions: int = 64, seed: int = 0) -> Path:
    """Write a tiny model folder: kind bert | distilbert | roberta; task feature-extraction |
    text-classification; pooling None (no sentence-transformers files) or 'mean' / 'cls' / ..."""
    import torch
    from transformers import (BertConfig, BertForSequenceClassification, BertModel, DistilBertConfig,
                              DistilBertForSequenceClassification, DistilBertModel, PreTrainedTokenizerFast,
                              RobertaConfig, RobertaForSequenceClassification, RobertaModel)

    out.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(out / "tokenizer.json")
    vocab, pad = tok.get_vocab_size(), tok.token_to_id("[PAD]")
    labels = {"id2label": {i: f"class_{i}" for i in range(num_labels)},
              "label2id": {f"class_{i}": i for i in range(num_labels)}} if task == "text-classification" else {}
    if kind == "bert":
        cfg = BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=max_positions, pad_token_id=pad, **labels)
        cls = BertForSequenceClassification if task == "text-classification" else BertModel
    elif kind == "distilbert":
        cfg = DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                               max_position_embeddings=max_positions, pad_token_id=pad, **labels)
        cls = DistilBertForSequenceClassification if task == "text-classification" else DistilBertModel
    elif kind == "roberta":
        # RoBERTa numbers positions from pad_token_id + 1: room for max_positions - pad - 1 tokens.
        cfg = RobertaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=64, max_position_embeddings=max_positions, pad_token_id=pad,
                            type_vocab_size=1, **labels)
        cls = RobertaForSequenceClassification if task == "text-classification" else RobertaModel
    else:
        raise ValueError(kind)
    torch.manual_seed(seed)
    model = cls(cfg).eval()
    if task == "text-classification":  # a random head is ~uniform: sharpen it so argmax means something
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "classifier" in name and name.endswith("weight"):
                    p.mul_(50)
    model.save_pretrained(out, safe_serialization=True)
    # The transformers / sentence-transformers side needs tokenizer_config.json; edgepack reads tokenizer.json.
    fast = PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"), unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=cfg.max_position_embeddings - (pad + 1 if kind == "roberta" else 0))
    fast.save_pretrained(out)
    if pooling is not None:
        modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
        if normalize:
            modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
            (out / "2_Normalize").mkdir(exist_ok=True)
        (out / "modules.json").write_text(json.dumps(modules, indent=2))
        (out / "1_Pooling").mkdir(exist_ok=True)
        if legacy_pooling:  # sentence-transformers < 6 wrote one boolean per mode
            pcfg = {"word_embedding_dimension": 32, "pooling_mode_cls_token": pooling == "cls",
                    "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": pooling == "max",
                    "pooling_mode_mean_sqrt_len_tokens": pooling == "mean_sqrt_len_tokens"}
        else:
            pcfg = {"embedding_dimension": 32, "pooling_mode": pooling, "include_prompt": True}
        (out / "1_Pooling" / "config.json").write_text(json.dumps(pcfg, indent=2))
        (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": fast.model_max_length,
                                                                   "do_lower_case": False}))
    return out


def write_project(root: Path, folder: Path, task: str = "feature-extraction", extra: str = "",
                  max_length: int | None = None, labels=None) -> Path:
    """An edgepack.toml next to (or around) ``folder``."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ['name = "tiny"', 'version = "0.1.0"', f'task = "{task}"']
    if max_length is not None:
        lines.append(f"max_length = {max_length}")
    if task == "text-classification":
        lines.append(f"labels = {json.dumps(labels or ['class_0', 'class_1', 'class_2'])}")
    rel = os.path.relpath(folder, root)
    lines += ["", "[model]", f'hf = "{rel}"', "", "[examples]",
              'texts = ["the quick brown fox", "a cat sat on the mat", "hello"]', "", extra]
    (root / "edgepack.toml").write_text("\n".join(lines) + "\n")
    return root
