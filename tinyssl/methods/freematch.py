"""FreeMatch (Wang et al., ICLR 2023): FixMatch with self-adaptive thresholds.

The global threshold τ is a running mean of the model's confidence on unlabelled images
(it starts at 1/C, so early on most pseudo-labels count, and rises as the model learns);
each class's threshold is τ scaled by that class's running mean probability relative to the
largest (classes the model rarely predicts get lower bars). A small self-adaptive fairness
term pushes the strong views' mean prediction towards the running class marginal. USB's
benchmark (WRN-28-2, CIFAR-10, 40 labels): error 4.97 ± 0.09 % against FixMatch's
8.33 ± 1.41 %; the adaptive bar matters most where a fixed 0.95 rarely fires, as with our
low-bit networks.
"""

from __future__ import annotations

from typing import Any

import torch

from tinyssl.methods.consistency import Consistency, hard_label_loss
from tinyssl.models import Net


def fairness_loss(mask: torch.Tensor, student: torch.Tensor, p_model: torch.Tensor,
                  label_hist: torch.Tensor) -> torch.Tensor:
    """FreeMatch's self-adaptive fairness: the negative cross-entropy between the running
    class marginal and the masked strong views' mean prediction, each normalised by its
    histogram of predicted labels (as in USB's reference code)."""
    keep = mask.bool()
    if not keep.any():
        return student.sum() * 0.0
    probs = student[keep].softmax(1)
    hist = torch.bincount(probs.argmax(1), minlength=student.shape[1]).to(probs.dtype)
    hist = hist / hist.sum()
    model = p_model / label_hist.clamp(min=1e-12)
    model = model / model.sum()
    mean = probs.mean(0) * torch.nan_to_num(1.0 / hist, posinf=0.0)
    mean = mean / mean.sum().clamp(min=1e-12)
    return -(model * torch.log(mean + 1e-12)).sum()


class FreeMatch(Consistency):
    """Options: fairness (weight of the fairness term, 0.01), ema (decay of the running
    confidence and class statistics, 0.999), dist_align, weight, strong-view options."""

    name = "freematch"

    def __init__(self, net: Net, num_classes: int, fairness: float = 0.01, ema: float = 0.999,
                 **options: Any) -> None:
        if not 0 <= ema < 1:
            raise ValueError(f"freematch option ema must be in [0, 1) (got {ema}).")
        super().__init__(net, num_classes, **options)
        self.options.update(fairness=fairness, ema=ema)
        self.fairness, self.ema_decay = fairness, ema
        start = torch.full((num_classes,), 1.0 / num_classes)
        self.register_buffer("time_p", torch.tensor(1.0 / num_classes))
        self.register_buffer("p_model", start.clone())
        self.register_buffer("label_hist", start.clone())

    @torch.no_grad()
    def update_thresholds(self, probs: torch.Tensor) -> torch.Tensor:
        """Move the running statistics one step with this batch; return per-class bars."""
        m = self.ema_decay
        conf, pseudo = probs.max(1)
        hist = torch.bincount(pseudo, minlength=self.num_classes).to(probs.dtype)
        self.time_p.mul_(m).add_(conf.mean(), alpha=1 - m)
        self.p_model.mul_(m).add_(probs.mean(0), alpha=1 - m)
        self.label_hist.mul_(m).add_(hist / hist.sum(), alpha=1 - m)
        return self.time_p * self.p_model / self.p_model.max()

    def unlabeled_loss(self, probs: torch.Tensor, student: torch.Tensor,
                       index: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        loss, mask = hard_label_loss(probs, student, self.update_thresholds(probs))
        if self.fairness > 0:
            loss = loss + self.fairness * fairness_loss(mask, student, self.p_model,
                                                        self.label_hist)
        return loss, mask.mean()
