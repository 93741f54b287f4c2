"""Bidirectional LSTM classifier with masks instead of packed sequences.

A single ``nn.LSTM(bidirectional=True)`` reads right padding *first* in its backward direction, so
a padded batch would answer differently from a text alone. Instead the backward LSTM reads each
row's real tokens reversed in place (padding stays at the right, computed from the mask with a
gather), and its outputs are un-reversed the same way. Both directions then see only real tokens
at real positions; a masked mean over the concatenated states, gated by a Sigmoid, feeds the
classifier. Exports to two ONNX ``LSTM`` nodes, both of which ONNX Runtime quantizes dynamically.
"""

import torch
from torch import nn


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[i]`` steps of each row of x [batch, seq, dim]; leave the rest."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    idx = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    return torch.gather(x, 1, idx[:, :, None].expand(-1, -1, x.shape[2]))


class BiLSTMClassifier(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_dim: int = 32, num_classes: int = 3,
                 dropout: float = 0.1, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.forward_lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.backward_lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.gate = nn.Linear(2 * hidden_dim, 2 * hidden_dim)
        self.fc = nn.Linear(2 * hidden_dim, num_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(input_ids))
        lengths = attention_mask.sum(dim=1)
        fwd, _ = self.forward_lstm(x)
        bwd, _ = self.backward_lstm(reverse_padded(x, lengths))
        states = torch.cat([fwd, reverse_padded(bwd, lengths)], dim=-1)
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return self.fc(pooled * torch.sigmoid(self.gate(pooled)))
