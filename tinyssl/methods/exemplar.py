"""Exemplar (Dosovitskiy et al., "Discriminative Unsupervised Feature Learning with
Convolutional Neural Networks", NIPS 2014): every image is its own surrogate class, learnt
from many heavily augmented copies of it.

The paper trains a parametric softmax over N surrogate classes. On a streaming pool each
image comes round once per epoch, so its class weights would be updated once per epoch and
lag far behind the encoder. We use the non-parametric form of the same instance classifier
(Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric Instance
Discrimination"): the weights of class i are a memory bank entry, the running mean of image
i's normalised embeddings (for the images of the batch: the mean of this step's copies),
and every copy is classified against all N entries with a full softmax (exact, since our
pools are at most tens of thousands of images: O(copies·B·N·d) per step). A triplet loss
needs hard-negative mining to learn anything; the instance classifier compares each copy
with every image at once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from tinyssl.augment.views import simclr_views
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod, mlp
from tinyssl.models import Net


def instance_logits(z: torch.Tensor, bank: torch.Tensor, temperature: float) -> torch.Tensor:
    """Each embedding (any copy of an image) against every memory-bank entry (L2-normalised
    rows of `bank`): cosine / temperature. Cross-entropy with the image's index as the class
    is the exemplar loss."""
    return F.normalize(z.float(), dim=1) @ bank.T / temperature


def with_current(bank: torch.Tensor, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The bank with the batch's own images replaced by the (detached) normalised mean of
    their copies in this step: the class weights every copy is pulled towards.

    Why: a short run sees each image of a large pool less than once, so its stored entry is
    still the random initial vector; the other images' entries stay the stored ones."""
    z = F.normalize(z.detach().float(), dim=1)
    mean = torch.zeros_like(bank).index_add_(0, index, z)
    seen = torch.unique(index)
    return bank.index_copy(0, seen, F.normalize(mean[seen], dim=1))


@torch.no_grad()
def update_bank(bank: torch.Tensor, z: torch.Tensor, index: torch.Tensor,
                momentum: float) -> None:
    """bank[i] ← normalise(momentum·bank[i] + (1 − momentum)·mean of image i's copies)."""
    seen = torch.unique(index)
    bank[seen] = F.normalize(momentum * bank[seen] + (1 - momentum) * with_current(
        bank, z, index)[seen], dim=1)


class Exemplar(PretextMethod):
    """Options: copies (augmented copies per image per step, 4), temperature (0.1),
    momentum (memory bank, 0.5 as in Wu et al.), proj_dim (64), proj_hidden (256), strength,
    crop_min, blur (SimCLR's kornia views: crops, colour, blur, as the paper's translations,
    scalings and colour changes), flip, collapse_threshold, check_every."""

    name = "exemplar"

    def __init__(self, net: Net, num_classes: int, copies: int = 4, temperature: float = 0.1,
                 momentum: float = 0.5, proj_dim: int = 64, proj_hidden: int = 256,
                 strength: float = 0.5, crop_min: float = 0.2, blur: bool = True,
                 **options: Any) -> None:
        super().__init__(net, num_classes, **options)
        if copies < 1 or temperature <= 0 or not 0 <= momentum < 1:
            raise ValueError("exemplar needs copies >= 1, temperature > 0 and momentum in "
                             f"[0, 1) (got {copies}, {temperature}, {momentum}).")
        self.options.update(copies=copies, temperature=temperature, momentum=momentum,
                            proj_dim=proj_dim, proj_hidden=proj_hidden, strength=strength,
                            crop_min=crop_min, blur=blur)
        self.copies, self.temperature, self.momentum = copies, temperature, momentum
        self.view_args = (self.flip, float(strength), float(crop_min), bool(blur))
        self.projector = mlp(self.feature_dim, proj_hidden, proj_dim)
        self.register_buffer("bank", torch.empty(0, proj_dim))
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None

    def bind_pool(self, size: int) -> None:
        """One bank entry per pool image, random unit vectors until the image is seen."""
        g = torch.Generator().manual_seed(0)
        self.bank = F.normalize(torch.randn(size, self.bank.shape[1], generator=g), dim=1)

    def after_optimizer_step(self, progress: float) -> None:
        if self._pending is not None:
            update_bank(self.bank, *self._pending, self.momentum)
            self._pending = None

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        x = self.images(unlabeled)
        if unlabeled is None or unlabeled.index is None or not len(self.bank):
            raise RuntimeError("exemplar needs the trainer's image indices (bind_pool).")
        augment = simclr_views(x.shape[-1], *self.view_args)
        h = self.features(torch.cat([augment(x) for _ in range(self.copies)]))
        z = self.projector(h)
        index = unlabeled.index.repeat(self.copies)
        logits = instance_logits(z, with_current(self.bank, z, index), self.temperature)
        loss = F.cross_entropy(logits, index)
        acc = (logits.detach().argmax(1) == index).float().mean()
        if self.training:  # the bank is in this step's graph: move it after the backward pass
            self._pending = (z.detach(), index)
        return self.output(loss, h, instance_acc=acc)
