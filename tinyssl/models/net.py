"""The model every method trains: an encoder (what reaches the FPGA) and a classifier."""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    """encoder → classifier. Methods attach their own heads beside it, never inside.

    `quantized` tells the export stage whether this network can go to QONNX/FINN.
    """

    def __init__(self, encoder: nn.Module, classifier: nn.Module, feature_dim: int,
                 quantized: bool) -> None:
        super().__init__()
        self.encoder = encoder
        self.classifier = classifier
        self.feature_dim = feature_dim
        self.quantized = quantized

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float NCHW in [0, 1]; returns logits."""
        return self.classifier(self.encoder(x))
