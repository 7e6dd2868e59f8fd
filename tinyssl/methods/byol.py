"""BYOL (Grill et al. 2020): SimSiam's recipe with the target from a slowly moving average
(EMA) of the online encoder and projector. `after_optimizer_step` moves it after each step;
its momentum rises from `momentum` (0.99) to 1 on a cosine schedule, as in the paper."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from tinyssl.methods.simsiam import SimSiam
from tinyssl.models import Net


class BYOL(SimSiam):
    """Options: momentum (base EMA decay of the target, 0.99), pred_hidden (256: BYOL's
    predictor is as wide as its projector), and SimSiam's options."""

    name = "byol"

    def __init__(self, net: Net, num_classes: int, momentum: float = 0.99,
                 pred_hidden: int = 256, **options: Any) -> None:
        super().__init__(net, num_classes, pred_hidden=pred_hidden, **options)
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1] (got {momentum}).")
        self.options.update(momentum=momentum)
        self.momentum = momentum
        self.target_encoder = copy.deepcopy(net.encoder).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)

    @torch.no_grad()
    def targets(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.target_projector(self.target_encoder(x).float())

    def tau(self, progress: float) -> float:
        return 1 - (1 - self.momentum) * (math.cos(math.pi * min(progress, 1.0)) + 1) / 2

    @torch.no_grad()
    def after_optimizer_step(self, progress: float) -> None:
        """target ← τ·target + (1-τ)·online, weights and BatchNorm statistics alike."""
        tau = self.tau(progress)
        for target, online in ((self.target_encoder, self.net.encoder),
                               (self.target_projector, self.projector)):
            t_state, o_state = target.state_dict(), online.state_dict()
            for name, t in t_state.items():
                if torch.is_floating_point(t):
                    t.lerp_(o_state[name], 1 - tau)
                else:
                    t.copy_(o_state[name])
