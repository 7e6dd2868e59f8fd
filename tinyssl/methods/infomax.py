"""Mutual-information maximisation (after Tschannen, Djolonga, Rubenstein, Gelly & Lucic,
"On Mutual Information Maximization for Representation Learning", ICLR 2020): maximise the
InfoNCE lower bound on the mutual information between the encodings of two parts of an
image, by default its two halves (top/bottom or left/right, picked per batch; the hidden
half is mid-grey), as in the paper's MNIST experiments, or two augmented views.

The critic is bilinear, f(a, b) = âᵀ W b̂ / temperature on L2-normalised projections: the
paper finds that a critic of this simple kind gives better features than the tighter MI
bounds of richer critics, i.e. the bound's value is not what makes features good. Unlike
SimCLR's NT-Xent, the loss is one-directional (part a picks its b among the batch) and W
lets the two parts play different roles, so the two halves need not look alike.

Progress signal: `mi_bound`, the InfoNCE estimate log N − loss (nats; at most log N).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from tinyssl.augment.views import simclr_views
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod, mlp
from tinyssl.methods.supervised import weak_augment
from tinyssl.models import Net


def infonce(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor,
            temperature: float) -> torch.Tensor:
    """InfoNCE with a bilinear critic: row i of `a` should pick row i of `b` among all N."""
    scores = F.normalize(a.float(), dim=1) @ weight @ F.normalize(b.float(), dim=1).T
    return F.cross_entropy(scores / temperature, torch.arange(len(a), device=a.device))


def halves(x: torch.Tensor, fill: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Two copies of float images N×C×H×W: one shows only the first half (top, or left when
    the batch draws columns), the other only the second; the rest is `fill`."""
    axis = 2 if torch.rand(()) < 0.5 else 3
    keep = torch.arange(x.shape[axis], device=x.device) < x.shape[axis] // 2
    keep = keep.view(1, 1, -1, 1) if axis == 2 else keep.view(1, 1, 1, -1)
    return torch.where(keep, x, fill), torch.where(keep, fill, x)


class InfoMax(PretextMethod):
    """Options: pair (halves or views, halves), temperature (0.1), proj_dim (64),
    proj_hidden (256), strength, crop_min, blur (SimCLR views, for pair=views), flip,
    collapse_threshold, check_every."""

    name = "infomax"

    def __init__(self, net: Net, num_classes: int, pair: str = "halves",
                 temperature: float = 0.1, proj_dim: int = 64, proj_hidden: int = 256,
                 strength: float = 0.5, crop_min: float = 0.2, blur: bool = True,
                 **options: Any) -> None:
        super().__init__(net, num_classes, **options)
        if pair not in ("halves", "views") or temperature <= 0:
            raise ValueError(f"infomax needs pair halves or views and temperature > 0 (got "
                             f"{pair}, {temperature}).")
        self.options.update(pair=pair, temperature=temperature, proj_dim=proj_dim,
                            proj_hidden=proj_hidden, strength=strength, crop_min=crop_min,
                            blur=blur)
        self.pair, self.temperature = pair, temperature
        self.view_args = (self.flip, float(strength), float(crop_min), bool(blur))
        self.projector = mlp(self.feature_dim, proj_hidden, proj_dim)
        self.critic = nn.Parameter(torch.eye(proj_dim))

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        size = x.shape[-1]
        if self.pair == "views":
            augment = simclr_views(size, *self.view_args)
            return augment(x), augment(x)
        return halves(weak_augment(size, self.flip)(x))

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        x = self.images(unlabeled)
        a, b = self.parts(x)
        h = self.features(torch.cat([a, b]))
        za, zb = self.projector(h).chunk(2)
        loss = infonce(za, zb, self.critic, self.temperature)
        return self.output(loss, h, mi_bound=math.log(len(x)) - loss.detach())
