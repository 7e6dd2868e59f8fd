"""Exponential moving average of the weights, used for evaluation and the saved model.

torch's AveragedModel does the bookkeeping; with use_buffers=True the BatchNorm running
statistics are averaged too, so the EMA network is consistent with its own weights. The
decay warms up as min(decay, (1+t)/(10+t)) so that short runs are not dominated by the
random initial weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


class EMA:
    def __init__(self, net: nn.Module, decay: float) -> None:
        self.decay = decay
        self._now = 0.0
        self.model = AveragedModel(net, multi_avg_fn=self._average, use_buffers=True)
        self.model.requires_grad_(False)

    @torch.no_grad()
    def _average(self, ema: list[torch.Tensor], current: list[torch.Tensor], _n: Any) -> None:
        if torch.is_floating_point(ema[0]):
            torch._foreach_lerp_(ema, current, 1.0 - self._now)
        else:  # integer buffers (BatchNorm's num_batches_tracked): just follow the model
            for e, c in zip(ema, current, strict=True):
                e.copy_(c)

    def update(self, net: nn.Module, step: int) -> None:
        self._now = min(self.decay, (1 + step) / (10 + step))
        self.model.update_parameters(net)

    @property
    def module(self) -> nn.Module:
        return self.model.module

    def state_dict(self) -> dict[str, Any]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state)
