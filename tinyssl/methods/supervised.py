"""Supervised: cross-entropy on weakly augmented labelled images (the baseline to beat)."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch.nn import functional as F  # noqa: N812

from tinyssl.augment import WeakAugment
from tinyssl.methods.base import Batch, Method, StepOutput
from tinyssl.models import Net


@lru_cache(maxsize=16)
def weak_augment(image_size: int, flip: bool) -> WeakAugment:
    """Augmenters hold no state, so every method and step can share one per setting."""
    return WeakAugment(image_size, flip)


class Supervised(Method):
    """Labelled batches only. Options: flip (horizontal flips, off for digits),
    label_smoothing."""

    name = "supervised"

    def __init__(self, net: Net, num_classes: int, flip: bool = False,
                 label_smoothing: float = 0.0) -> None:
        super().__init__(net, num_classes, flip=flip, label_smoothing=label_smoothing)
        self.flip = flip
        self.label_smoothing = label_smoothing

    def weak(self, x: torch.Tensor) -> torch.Tensor:
        return weak_augment(x.shape[-1], self.flip)(x)

    def labeled_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        assert labeled is not None and labeled.y is not None
        loss = self.labeled_loss(self.net(self.weak(labeled.x)), labeled.y)
        return StepOutput(loss, {"loss_x": loss.detach()})
