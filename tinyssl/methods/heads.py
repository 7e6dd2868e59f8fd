"""Pieces every self-supervised pretext method shares: heads, the collapse signal, the base.

Heads are plain float layers: they live on the method (never on `net`), so they are
checkpointed with the run but never reach the QONNX export or the FPGA.

Collapse signal (SimSiam paper, Chen & He 2021, section 4.1): the standard deviation over
the batch of each dimension of the L2-normalised encoder features, averaged over dimensions.
Features spread over the unit sphere give about 1/sqrt(d); a collapsed encoder (every image
mapped to the same point) gives 0. We warn when it falls under `collapse_threshold`/sqrt(d)
(default 0.1, i.e. a tenth of the healthy value). Encoder features are measured, not the
projector output, because the encoder is what downstream tasks keep.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from tinyssl.methods.base import Batch, Method, StepOutput
from tinyssl.models import Net


class CollapseWarning(UserWarning):
    """The encoder maps (nearly) every image to the same embedding."""


def mlp(in_features: int, hidden: int, out_features: int, last_bn: bool = False) -> nn.Sequential:
    """Linear → BN → ReLU → Linear (SimCLR/SimSiam projection and BYOL prediction heads)."""
    layers: list[nn.Module] = [nn.Linear(in_features, hidden, bias=False), nn.BatchNorm1d(hidden),
                               nn.ReLU(inplace=True), nn.Linear(hidden, out_features)]
    if last_bn:
        layers.append(nn.BatchNorm1d(out_features, affine=False))
    return nn.Sequential(*layers)


def thumbnail_decoder(in_features: int, hidden: int, shape: tuple[int, int, int]
                      ) -> nn.Sequential:
    """Features → a C×S×S thumbnail (flattened): the small float decoder of the
    reconstruction pretexts (autoencoder, colorization, inpainting)."""
    channels, h, w = shape
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, channels * h * w))


def embedding_std(z: torch.Tensor) -> torch.Tensor:
    """Mean per-dimension std of L2-normalised embeddings: ~1/sqrt(d) healthy, 0 collapsed."""
    z = F.normalize(z.detach().float().flatten(1), dim=1)
    return z.std(dim=0).mean()


def regression_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BYOL's 2 - 2·cos(p, z) = ||p̂ - ẑ||², averaged over the batch; 0 when aligned.

    `z` is the target: the caller detaches it (stop-gradient)."""
    return (2.0 - 2.0 * F.cosine_similarity(p.float(), z.float(), dim=1)).mean()


class PretextMethod(Method):
    """Base of the self-supervised methods: every image, no labels, a collapse monitor.

    Options shared by all: flip (horizontal flips in the views; off suits digits and text),
    collapse_threshold (warn when embedding std < threshold/sqrt(d)), check_every (steps
    between collapse checks: the check reads one scalar back from the device).
    """

    uses_labeled: ClassVar[bool] = False
    uses_unlabeled: ClassVar[bool] = True

    def __init__(self, net: Net, num_classes: int, flip: bool = False,
                 collapse_threshold: float = 0.1, check_every: int = 50,
                 **options: Any) -> None:
        super().__init__(net, num_classes, flip=flip, collapse_threshold=collapse_threshold,
                         check_every=check_every, **options)
        if collapse_threshold < 0 or check_every < 1:
            raise ValueError("collapse_threshold must be >= 0 and check_every >= 1.")
        self.flip = flip
        self.collapse_threshold = collapse_threshold
        self.check_every = check_every
        self.feature_dim = net.feature_dim
        self._steps = 0

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder features of float images in [0, 1]."""
        return self.net.encoder(x).float()

    def images(self, batch: Batch | None) -> torch.Tensor:
        if batch is None:
            raise ValueError(f"{self.name} trains on unlabelled images; none were given.")
        return batch.x

    def monitor(self, h: torch.Tensor) -> torch.Tensor:
        """The collapse signal of encoder features `h`; warns every `check_every` steps."""
        std = embedding_std(h)
        self._steps += 1
        if self._steps % self.check_every == 1 or self.check_every == 1:
            limit = self.collapse_threshold / math.sqrt(h.shape[1])
            value = std.item()
            if value < limit:
                warnings.warn(
                    f"{self.name}: the encoder is collapsing (std of normalised embeddings "
                    f"{value:.2e} < {limit:.2e}, healthy ≈ {1 / math.sqrt(h.shape[1]):.2e}); "
                    "try a lower lr, a larger batch or another method.",
                    CollapseWarning, stacklevel=2)
        return std

    def output(self, loss: torch.Tensor, h: torch.Tensor, **logs: torch.Tensor) -> StepOutput:
        return StepOutput(loss, {"embed_std": self.monitor(h), **logs})

    #: Why a pretext's task can stay unsolvable on some data (said when it stays at chance).
    stuck_reason: ClassVar[str] = ""

    def task_chance(self) -> dict[str, float]:
        """{logged task accuracy: its chance level} for pretexts that are a k-way guess
        (rotation, jigsaw, context): a task that stays near chance taught the encoder
        nothing, however long it ran. Empty for the others."""
        return {}

