"""1-D CNN text classifier: Embedding -> Conv1d (widths 3 and 5) -> ReLU -> masked max pool -> Linear.

Padding: embeddings at padded positions are zeroed, which is exactly what the convolution's own
zero padding supplies past the end of a text alone, and pooling ignores padded positions (after a
ReLU every value is >= 0, so multiplying by the mask before the max leaves real maxima intact).
So a text gets the same answer alone or in a padded batch. Convolutions are quantized statically
(QDQ, calibrated), not dynamically: ONNX Runtime's dynamic path would emit ConvInteger, which
onnxruntime-web cannot run.
"""

import torch
from torch import nn


class TextCNN(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int = 32, channels: int = 32, widths=(3, 5), num_classes: int = 3,
                 dropout: float = 0.2, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, channels, w, padding=w // 2) for w in widths)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels * len(widths), num_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(1).to(torch.float32)  # [batch, 1, seq]
        x = self.embedding(input_ids).transpose(1, 2) * mask  # [batch, dim, seq]
        pooled = [(torch.relu(conv(x)) * mask).amax(dim=2) for conv in self.convs]
        return self.fc(self.dropout(torch.cat(pooled, dim=1)))
