"""The one small interface between the trainer and every method.

The trainer owns the loop (optimiser, schedule, EMA, AMP, checkpoints, evaluation); a
method owns its loss, its extra heads and its augmentation recipe. Each step the trainer
hands over one labelled and/or one unlabelled batch, already on the device, as uint8 NCHW;
the method returns the loss and a few scalars to log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from tinyssl.models import Net


@dataclass
class Batch:
    x: torch.Tensor  # uint8 N×C×H×W on the training device
    y: torch.Tensor | None = None  # int64 N; None for unlabelled batches
    index: torch.Tensor | None = None  # int64 N: indices into DataBundle.train (or unlabelled pool)


@dataclass
class StepOutput:
    loss: torch.Tensor
    #: scalars to log; 0-dim tensors are fine (read only when logging: no device sync per step)
    logs: dict[str, float | torch.Tensor] = field(default_factory=dict)


class Method(nn.Module):
    """Base class. Subclasses set `name`, and say which batches they need.

    `progress` is the fraction of training done (0 → 1), for schedules such as TSA.
    Heads a method adds are submodules of the method, never of `self.net`, so they are
    checkpointed with the run but never exported.
    """

    name: ClassVar[str]
    uses_labeled: ClassVar[bool] = True
    uses_unlabeled: ClassVar[bool] = False

    def __init__(self, net: Net, num_classes: int, **options: Any) -> None:
        super().__init__()
        self.net = net
        self.num_classes = num_classes
        self.options = options

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        raise NotImplementedError

    def forward(self, labeled: Batch | None, unlabeled: Batch | None,
                progress: float) -> StepOutput:
        """Same as `training_step`: DDP synchronises gradients only through `forward`."""
        return self.training_step(labeled, unlabeled, progress)

    def after_optimizer_step(self, progress: float) -> None:
        """Called by the trainer after every optimiser step (e.g. BYOL's EMA target update)."""

    def holdout_reference(self) -> nn.Module | None:
        """A network whose predictions the trained one should match: its agreement with them
        on held-out unlabelled images is a label-free validation score (early stopping
        without labelled validation, train/callbacks/validation.py); None: this method has
        none."""
        return None

    def bind_pool(self, size: int) -> None:
        """Called once, before a checkpoint is restored, with the number of images that
        `Batch.index` can point at, for methods that keep per-image state (FlexMatch)."""
