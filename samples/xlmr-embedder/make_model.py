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

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # tiny_hf: what the tiny Hugging Face samples share
sys.path.insert(0, str(HERE.parents[1] / "scripts"))  # golden_modern._fields: the one protobuf reader

import tiny_hf  # noqa: E402  (first: it sets the offline/threads environment)
import sentencepiece as spm  # noqa: E402
from golden_modern import _fields  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import XLMRobertaConfig, XLMRobertaModel  # noqa: E402

OUT = HERE / "model"
MAX_TOKENS = 128
VOCAB_SIZE = 1000
SCALE = 20.0  # cosine-softmax temperature of the training head


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


def main() -> None:
    tiny_hf.seed()
    labels = ["Negative", "Neutral", "Positive"]
    train, heldout = tiny_hf.corpus()
    tok = train_tokenizer([t for t, _ in train])
    pad = tok.token_to_id("<pad>")
    config = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=128, max_position_embeddings=MAX_TOKENS + pad + 1, type_vocab_size=1,
                              pad_token_id=pad, bos_token_id=0, eos_token_id=2)
    model = tiny_hf.Embedder(XLMRobertaModel(config, add_pooling_layer=False), len(labels), SCALE)
    acc = tiny_hf.fit(model, tok, train, heldout, labels, pad)
    tiny_hf.save(OUT, model, tok, MAX_TOKENS, tiny_hf.ROBERTA_SPECIAL_TOKENS)
    tiny_hf.write_sentence_transformers_files(OUT, config.hidden_size, MAX_TOKENS)
    tiny_hf.report(acc, train, heldout, vocab=tok.get_vocab_size())


if __name__ == "__main__":
    main()
