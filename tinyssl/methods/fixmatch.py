"""FixMatch (Sohn et al. 2020): a confident weak-view prediction supervises the strong view."""

from __future__ import annotations

from typing import Any

import torch

from tinyssl.methods.consistency import Consistency, hard_label_loss
from tinyssl.models import Net


class FixMatch(Consistency):
    """Hard pseudo-label from the weak view where its top probability exceeds `threshold`
    (0.95), cross-entropy on the strong view of the same image."""

    name = "fixmatch"

    def __init__(self, net: Net, num_classes: int, threshold: float = 0.95,
                 **options: Any) -> None:
        super().__init__(net, num_classes, threshold=threshold, **options)

    def unlabeled_loss(self, probs: torch.Tensor, student: torch.Tensor,
                       index: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        loss, mask = hard_label_loss(probs, student, torch.tensor(self.threshold))
        return loss, mask.mean()
