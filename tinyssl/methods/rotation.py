"""Rotation prediction (Gidaris et al. 2018): which of 0/90/180/270° was the image turned by?

Every image appears in all four rotations in the same batch, as in the paper (better than
one random rotation per image), after a weak random crop (and optional flip).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod
from tinyssl.methods.supervised import weak_augment
from tinyssl.models import Net


def rotate_all(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """N images (NCHW, square) → 4N: every image at k·90° counter-clockwise, label k."""
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotation needs square images (got {tuple(x.shape[-2:])}).")
    rotated = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(4)])
    labels = torch.arange(4, device=x.device).repeat_interleave(len(x))
    return rotated, labels


class Rotation(PretextMethod):
    """A 4-way linear head on the encoder features. Options: flip, collapse_threshold,
    check_every."""

    name = "rotation"
    stuck_reason = ("these images may have no canonical orientation (cells, aerial views, "
                    "textures look the same turned), so there is nothing to predict")

    def __init__(self, net: Net, num_classes: int, **options: Any) -> None:
        super().__init__(net, num_classes, **options)
        self.head = nn.Linear(self.feature_dim, 4)

    def task_chance(self) -> dict[str, float]:
        return {"rot_acc": 1 / 4}

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        x = weak_augment(self.images(unlabeled).shape[-1], self.flip)(self.images(unlabeled))
        rotated, labels = rotate_all(x)
        h = self.features(rotated)
        logits = self.head(h)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.detach().argmax(1) == labels).float().mean()
        return self.output(loss, h, rot_acc=acc)
