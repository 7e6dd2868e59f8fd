"""UDA (Xie et al. 2020): supervised cross-entropy with training-signal annealing, plus KL
consistency between a sharpened, confidence-masked prediction on the unlabelled image and
the prediction on its strong augmentation."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from tinyssl.methods.consistency import Consistency
from tinyssl.models import Net

TSA_SCHEDULES = ("none", "linear", "log", "exp")


def tsa_threshold(schedule: str, progress: float, num_classes: int) -> float:
    """UDA's η_t: labelled examples predicted above it stop contributing (anti-overfitting)."""
    alpha = {"linear": progress, "log": 1 - math.exp(-5 * progress),
             "exp": math.exp(5 * (progress - 1)), "none": 1.0}[schedule]
    return alpha * (1 - 1 / num_classes) + 1 / num_classes


class UDA(Consistency):
    """Options: temperature (0.4), threshold (0.8), tsa (none/linear/log/exp), weight (1),
    teacher ("none": the unaugmented image as in the paper, or "weak")."""

    name = "uda"

    def __init__(self, net: Net, num_classes: int, temperature: float = 0.4,
                 threshold: float = 0.8, tsa: str = "log", teacher: str = "none",
                 **options: Any) -> None:
        if tsa not in TSA_SCHEDULES:
            raise ValueError(f"unknown tsa schedule '{tsa}'; choose from "
                             f"{', '.join(TSA_SCHEDULES)}.")
        if teacher not in ("none", "weak"):
            raise ValueError(f"unknown UDA teacher view '{teacher}'; choose none or weak.")
        super().__init__(net, num_classes, threshold=threshold, **options)
        self.options.update(temperature=temperature, tsa=tsa, teacher=teacher)
        self.temperature, self.tsa, self.teacher_view = temperature, tsa, teacher

    def supervised_term(self, logits: torch.Tensor, y: torch.Tensor,
                        progress: float) -> torch.Tensor:
        eta = tsa_threshold(self.tsa, progress, self.num_classes)
        ce = F.cross_entropy(logits, y, reduction="none", label_smoothing=self.label_smoothing)
        p_true = logits.detach().softmax(1).gather(1, y[:, None]).squeeze(1)
        keep = (p_true < eta).float()
        return (ce * keep).sum() / keep.sum().clamp(min=1.0)

    def unlabeled_loss(self, probs: torch.Tensor, student: torch.Tensor,
                       index: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        mask = (probs.max(1).values >= self.threshold).float()
        sharp = probs.clamp(min=1e-12).pow(1.0 / self.temperature)  # = softmax(logits / T)
        target = sharp / sharp.sum(1, keepdim=True)
        kl = F.kl_div(student.log_softmax(1), target, reduction="none").sum(1)
        return (kl * mask).mean(), mask.mean()
