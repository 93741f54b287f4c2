"""The seed's sentiment model: Embedding -> LSTM -> Linear on the last hidden state.

Padding is handled with the attention mask rather than ``pack_padded_sequence`` (which does not
export to ONNX): the classifier reads the LSTM output at each row's last real token, which for a
right-padded unidirectional LSTM equals the final hidden state of the unpadded sequence. So a text
gets the same answer alone or in a padded batch.
"""

import torch
from torch import nn


class SentimentClassifier(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_dim: int = 128, num_classes: int = 3,
                 pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(self.embedding(input_ids))
        last = (attention_mask.sum(dim=1) - 1).clamp(min=0)
        rows = torch.arange(outputs.shape[0], device=outputs.device)
        return self.fc(outputs[rows, last])  # logits; edgepack adds softmax in the graph
