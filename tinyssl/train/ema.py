"""Exponential moving average of the weights, used for evaluation and the saved model.

torch's AveragedModel does the bookkeeping; with use_buffers=True the BatchNorm running
statistics are averaged too, so the EMA network is consistent with its own weights. The
decay warms up as min(decay, (1+t)/(10+t)) so that short runs are not dominated by the
random initial weights.

`update` does AveragedModel.update_parameters' work on tensor lists gathered once: that
method walks both module trees on every call, and a Brevitas network has ~400 modules
(tiny-w2a2: 21 ms per update against 0.8 ms for the averaging itself, about a tenth of a
CPU training step). The network's tensors are only ever updated in place (optimizer,
BatchNorm, load_state_dict), so the lists stay valid; the result is the same, bit for bit.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


class EMA:
    def __init__(self, net: nn.Module, decay: float) -> None:
        self.decay = decay
        self._now = 0.0
        self.model = AveragedModel(net, use_buffers=True)
        self.model.requires_grad_(False)
        self._lists: tuple[nn.Module, list[torch.Tensor], ...] | None = None

    @staticmethod
    def _split(m: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(floating-point, integer) parameters and buffers of `m`, in module order."""
        tensors = [t.detach() for t in itertools.chain(m.parameters(), m.buffers())]
        return ([t for t in tensors if torch.is_floating_point(t)],
                [t for t in tensors if not torch.is_floating_point(t)])

    @torch.no_grad()
    def update(self, net: nn.Module, step: int) -> None:
        self._now = min(self.decay, (1 + step) / (10 + step))
        if self._lists is None or self._lists[0] is not net:
            self._lists = (net, *self._split(self.model.module), *self._split(net))
        _, ema_f, ema_i, net_f, net_i = self._lists
        if self.model.n_averaged == 0:  # the first update copies, as AveragedModel's does
            torch._foreach_copy_(ema_f + ema_i, net_f + net_i)
        else:
            torch._foreach_lerp_(ema_f, net_f, 1.0 - self._now)
            # integer buffers (BatchNorm's num_batches_tracked): just follow the model
            torch._foreach_copy_(ema_i, net_i)
        self.model.n_averaged += 1

    @property
    def module(self) -> nn.Module:
        return self.model.module

    def state_dict(self) -> dict[str, Any]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state)
