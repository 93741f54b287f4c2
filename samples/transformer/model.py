"""Small Transformer encoder: token + position embeddings -> nn.TransformerEncoder (GELU, LayerNorm,
padding mask) -> masked mean -> LayerNorm -> Linear.

The padding mask keeps padded positions out of attention and out of the mean, so a text gets the
same answer alone or in a padded batch. Position 0 is always attendable: an empty text (one [PAD],
mask 0) would otherwise have every key masked and softmax would return NaN. Real texts start with
a real token, so this changes nothing for them. ``enable_nested_tensor=False`` keeps the same
(dense) code path in eager PyTorch and in the exported graph.
"""

import torch
from torch import nn


class TransformerClassifier(nn.Module):
    def __init__(self, vocab_size: int, d_model: int = 32, heads: int = 2, layers: int = 2, ff_dim: int = 64,
                 max_length: int = 64, num_classes: int = 3, dropout: float = 0.1, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.position = nn.Embedding(max_length, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff_dim, dropout=dropout, activation="gelu",
                                           batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, num_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.embedding(input_ids) + self.position(positions)[None]
        keep = torch.cat([torch.ones_like(attention_mask[:, :1]), attention_mask[:, 1:]], dim=1)
        x = self.encoder(x, src_key_padding_mask=keep == 0)
        mask = attention_mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return self.fc(self.norm(pooled))
