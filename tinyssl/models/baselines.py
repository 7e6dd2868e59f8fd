"""Float baselines for the GPU path: CIFAR-style ResNet-18 and WRN-28-2.

Written here (≈60 lines) instead of importing torchvision/timm: torchvision has no CPU
wheel on our machines, and the CIFAR variants (3×3 stem, no initial max-pool) differ from
the ImageNet models those libraries ship. They expect inputs in [0, 1] and normalise inside.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


class _Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5) / 0.25


class _Block(nn.Module):
    """Pre-activation residual block (used by both networks)."""

    def __init__(self, cin: int, cout: int, stride: int, drop: float = 0.0) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.drop = drop
        self.shortcut = (
            nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        skip = self.shortcut(o) if self.shortcut is not None else x
        o = self.conv1(o)
        o = F.relu(self.bn2(o))
        if self.drop:
            o = F.dropout(o, self.drop, self.training)
        return self.conv2(o) + skip


class ResidualEncoder(nn.Module):
    """Stem conv, stages of residual blocks, BN-ReLU, global average pool."""

    def __init__(self, in_channels: int, stem: int, stages: list[tuple[int, int, int]]) -> None:
        super().__init__()
        layers: list[nn.Module] = [_Normalize(), nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False)]
        cin = stem
        for cout, blocks, stride in stages:
            for i in range(blocks):
                layers.append(_Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        layers += [nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
                   nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.out_features = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def resnet18(in_channels: int) -> ResidualEncoder:
    return ResidualEncoder(in_channels, 64, [(64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2)])


def wrn28_2(in_channels: int) -> ResidualEncoder:
    return ResidualEncoder(in_channels, 16, [(32, 4, 1), (64, 4, 2), (128, 4, 2)])
