"""SimCLR (Chen et al. 2020): two strong views of each image should find each other among
all 2N embeddings of the batch (NT-Xent, a softmax over cosine similarities)."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from tinyssl.augment.views import simclr_views
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod, mlp
from tinyssl.models import Net


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Normalised-temperature cross-entropy: row i of z1 is the positive of row i of z2.

    Each of the 2N embeddings is classified against the other 2N-1 (itself excluded) with
    cosine similarity / temperature as logits; its partner view is the right class.
    """
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    n = len(z1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, target)


class SimCLR(PretextMethod):
    """Options: temperature (0.5 suits small batches), proj_dim (64), proj_hidden (256),
    strength (colour jitter, 0.5), crop_min (smallest crop area fraction, 0.2), blur (True),
    plus flip / collapse_threshold / check_every."""

    name = "simclr"

    def __init__(self, net: Net, num_classes: int, temperature: float = 0.5,
                 proj_dim: int = 64, proj_hidden: int = 256, strength: float = 0.5,
                 crop_min: float = 0.2, blur: bool = True, **options: Any) -> None:
        super().__init__(net, num_classes, **options)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive (got {temperature}).")
        self.options.update(temperature=temperature, proj_dim=proj_dim, proj_hidden=proj_hidden,
                            strength=strength, crop_min=crop_min, blur=blur)
        self.temperature = temperature
        self.view_args = (self.flip, float(strength), float(crop_min), bool(blur))
        self.projector = mlp(self.feature_dim, proj_hidden, proj_dim)

    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        augment = simclr_views(x.shape[-1], *self.view_args)
        return augment(x), augment(x)

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        x = self.images(unlabeled)
        v1, v2 = self.views(x)
        h = self.features(torch.cat([v1, v2]))  # one forward: BatchNorm sees both views
        z1, z2 = self.projector(h).chunk(2)
        loss = nt_xent(z1, z2, self.temperature)
        return self.output(loss, h)
