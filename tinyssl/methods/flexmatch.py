"""FlexMatch (Zhang et al., NeurIPS 2021): curriculum pseudo-labelling with per-class bars.

Each class's threshold is the fixed τ (0.95) scaled by how well the model has learnt that
class so far, estimated from how many unlabelled images it currently predicts as that class
above τ (σ_c). β_c = σ_c / max(max_c σ, number of images never above τ) — the "warm-up"
form, so that early on, while most images are still undecided, every bar is low — and the
bar is τ · β_c / (2 - β_c) (the convex mapping of the paper). The per-image record of the
latest confident prediction is the method's state, checkpointed with it.
"""

from __future__ import annotations

from typing import Any

import torch

from tinyssl.methods.consistency import Consistency, hard_label_loss
from tinyssl.models import Net


def flexmatch_thresholds(selected: torch.Tensor, num_classes: int, threshold: float
                         ) -> torch.Tensor:
    """Per-class bars from the record `selected` (class per image, -1 never above τ)."""
    counts = torch.bincount(selected[selected >= 0], minlength=num_classes).float()
    undecided = (selected < 0).sum().float()
    beta = counts / torch.maximum(counts.max(), undecided).clamp(min=1.0)
    return threshold * beta / (2.0 - beta)


class FlexMatch(Consistency):
    """Options: threshold (τ, 0.95), dist_align, weight, strong-view options."""

    name = "flexmatch"

    def __init__(self, net: Net, num_classes: int, threshold: float = 0.95,
                 **options: Any) -> None:
        super().__init__(net, num_classes, threshold=threshold, **options)
        self.register_buffer("selected", torch.full((0,), -1, dtype=torch.int64))

    def bind_pool(self, size: int) -> None:
        self.selected = torch.full((size,), -1, dtype=torch.int64,
                                   device=self.selected.device)

    def unlabeled_loss(self, probs: torch.Tensor, student: torch.Tensor,
                       index: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if index is None or not len(self.selected):
            raise RuntimeError("FlexMatch needs the trainer's image indices (bind_pool).")
        with torch.no_grad():
            conf, pseudo = probs.max(1)
            confident = conf >= self.threshold
            self.selected[index[confident]] = pseudo[confident]
            bars = flexmatch_thresholds(self.selected, self.num_classes, self.threshold)
        loss, mask = hard_label_loss(probs, student, bars)
        return loss, mask.mean()
