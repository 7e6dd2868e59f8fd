"""SimSiam (Chen & He 2021): predict one view's projection from the other's, with a
stop-gradient on the target and no negatives. BYOL (byol.py) only swaps the target network.

The loss is BYOL's 2 - 2·cos (0 when prediction and target align); SimSiam's -cos differs
by a constant and a factor 2, i.e. the same optimum at twice the learning rate.
"""

from __future__ import annotations

from typing import Any

import torch

from tinyssl.augment.views import simclr_views
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod, mlp, regression_loss
from tinyssl.models import Net


class SimSiam(PretextMethod):
    """Options: proj_dim (64), pred_hidden (32: SimSiam's bottleneck predictor),
    strength, crop_min, blur (SimCLR views), flip, collapse_threshold, check_every."""

    name = "simsiam"

    def __init__(self, net: Net, num_classes: int, proj_dim: int = 64, pred_hidden: int = 32,
                 strength: float = 0.5, crop_min: float = 0.2, blur: bool = True,
                 **options: Any) -> None:
        super().__init__(net, num_classes, **options)
        self.options.update(proj_dim=proj_dim, pred_hidden=pred_hidden, strength=strength,
                            crop_min=crop_min, blur=blur)
        self.view_args = (self.flip, float(strength), float(crop_min), bool(blur))
        self.projector = mlp(self.feature_dim, 4 * proj_dim, proj_dim, last_bn=True)
        self.predictor = mlp(proj_dim, pred_hidden, proj_dim)

    @torch.no_grad()
    def targets(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Target projections of the stacked views `x` (online features `h`): detached."""
        return self.projector(h)

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        images = self.images(unlabeled)
        augment = simclr_views(images.shape[-1], *self.view_args)
        x = torch.cat([augment(images), augment(images)])
        h = self.features(x)
        p1, p2 = self.predictor(self.projector(h)).chunk(2)
        t1, t2 = self.targets(x, h).chunk(2)
        loss = 0.5 * (regression_loss(p1, t2) + regression_loss(p2, t1))
        return self.output(loss, h)
