"""GRU classifier: Embedding -> Dropout -> GRU -> state at the last real token -> Linear-Tanh-Linear.

Padding is handled with the attention mask (``pack_padded_sequence`` does not export): a
right-padded unidirectional GRU's output at each row's last real token equals the final state of
the unpadded text, so a text gets the same answer alone or in a padded batch. ONNX Runtime has no
dynamically quantized GRU kernel, so INT8 here covers the Gemm/MatMul head only; the GRU's weights
stay fp32, and so does the embedding (a table this small is faster as an fp32 lookup).
"""

import torch
from torch import nn


class GRUClassifier(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_dim: int = 48, num_classes: int = 3,
                 dropout: float = 0.1, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, num_classes))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.gru(self.dropout(self.embedding(input_ids)))
        last = (attention_mask.sum(dim=1) - 1).clamp(min=0)
        rows = torch.arange(outputs.shape[0], device=outputs.device)
        return self.head(outputs[rows, last])  # logits; edgepack adds softmax in the graph
