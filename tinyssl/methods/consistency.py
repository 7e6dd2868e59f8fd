"""Consistency regularisation, the base of UDA, FixMatch, FlexMatch, FreeMatch and
distillation: one forward over labelled weak, unlabelled teacher and strong views."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch.nn import functional as F  # noqa: N812

from tinyssl.augment import StrongAugment
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.supervised import Supervised
from tinyssl.models import Net


@lru_cache(maxsize=16)
def strong_augment(image_size: int, flip: bool, n: int, m: int, policy: str,
                   cutout: float) -> StrongAugment:
    return StrongAugment(image_size, flip, n=n, m=m, policy=policy, cutout=cutout)


class Consistency(Supervised):
    """Shared by UDA, FixMatch, FlexMatch and FreeMatch: one forward over [labelled weak,
    unlabelled teacher view, unlabelled strong view], so BatchNorm sees all three and the CPU
    runs one big batch.

    Options: weight (of the unlabelled loss), threshold (teacher confidence mask, where the
    method has a fixed one), dist_align (ReMixMatch's distribution alignment: the teacher's
    probabilities are divided by their running mean and renormalised, pulling the
    pseudo-labels towards a uniform class balance), randaugment_n / randaugment_m /
    randaugment_policy ("full" or "mild") and cutout (side of the erased square as a fraction
    of the image; 0 = off): the strong augmentation; flip.
    """

    uses_unlabeled = True
    teacher_view = "weak"
    #: decay of the running means that distribution alignment and adaptive thresholds keep
    ema_decay = 0.999

    def __init__(self, net: Net, num_classes: int, threshold: float | None = None,
                 weight: float = 1.0, dist_align: bool = False, randaugment_n: int = 2,
                 randaugment_m: int = 10, randaugment_policy: str = "full",
                 cutout: float = 0.5, **options: bool | float) -> None:
        super().__init__(net, num_classes, **options)  # flip, label_smoothing
        if threshold is not None:
            self.options["threshold"] = threshold
        self.options.update(weight=weight, dist_align=dist_align, randaugment_n=randaugment_n,
                            randaugment_m=randaugment_m, randaugment_policy=randaugment_policy,
                            cutout=cutout)
        self.threshold, self.weight, self.dist_align = threshold, weight, dist_align
        self.randaugment = (randaugment_n, randaugment_m, randaugment_policy, cutout)
        strong_augment(32, self.flip, *self.randaugment)  # unknown policy: fail now, not mid-run
        self.register_buffer("prob_mean", torch.full((num_classes,), 1.0 / num_classes))

    def strong(self, x: torch.Tensor) -> torch.Tensor:
        return strong_augment(x.shape[-1], self.flip, *self.randaugment)(x)

    def teacher(self, x: torch.Tensor) -> torch.Tensor:
        return self.weak(x) if self.teacher_view == "weak" else x.float().div(255.0)

    def forward_views(self, labeled: Batch, unlabeled: Batch
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits for labelled (weak), unlabelled teacher view (detached), unlabelled strong."""
        views = [self.weak(labeled.x), self.teacher(unlabeled.x), self.strong(unlabeled.x)]
        logits = self.net(torch.cat(views)).float()
        n, m = len(labeled.x), len(unlabeled.x)
        return logits[:n], logits[n:n + m].detach(), logits[n + m:]

    @torch.no_grad()
    def teacher_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax of the teacher view, distribution-aligned when asked for."""
        probs = logits.softmax(1)
        if not self.dist_align:
            return probs
        self.prob_mean.mul_(self.ema_decay).add_(probs.mean(0), alpha=1 - self.ema_decay)
        probs = probs / self.prob_mean.clamp(min=1e-6)
        return probs / probs.sum(1, keepdim=True)

    def unlabeled_loss(self, probs: torch.Tensor, student: torch.Tensor,
                       index: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, fraction of unlabelled images above the confidence threshold). `probs`: the
        teacher view's (detached) probabilities; `index`: the images' pool indices."""
        raise NotImplementedError

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        assert labeled is not None and labeled.y is not None and unlabeled is not None
        logits_x, teacher, student = self.forward_views(labeled, unlabeled)
        loss_x = self.supervised_term(logits_x, labeled.y, progress)
        loss_u, mask = self.unlabeled_loss(self.teacher_probs(teacher), student,
                                           unlabeled.index)
        loss = loss_x + self.weight * loss_u
        return StepOutput(loss, {"loss_x": loss_x.detach(), "loss_u": loss_u.detach(),
                                 "mask": mask})

    def supervised_term(self, logits: torch.Tensor, y: torch.Tensor,
                        progress: float) -> torch.Tensor:
        return self.labeled_loss(logits, y)


def hard_label_loss(probs: torch.Tensor, student: torch.Tensor, thresholds: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """FixMatch's loss: cross-entropy of the strong view against the teacher's top class,
    where its probability reaches `thresholds` (a 0-dim tensor, or one per class for
    FlexMatch/FreeMatch). Returns (loss, per-image mask)."""
    conf, pseudo = probs.max(1)
    limit = thresholds[pseudo] if thresholds.dim() else thresholds
    mask = (conf >= limit).float()
    return (F.cross_entropy(student, pseudo, reduction="none") * mask).mean(), mask
