"""Colorization (Zhang et al. 2016, as a pretext): the encoder sees only the grey image and
must predict its colours. The float decoder reconstructs the two chroma channels (Cb, Cr of
ITU-R 601 YCbCr) of a `recon_size`² thumbnail, regressed with mean squared error — a
regression rather than the paper's colour-bin classification, which needs far more images
than a customer's few thousand to beat. The network still takes 3 channels (the grey image
copied into each), so the pre-trained encoder fits the colour task it is fine-tuned on.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from tinyssl.data.images import LUMA
from tinyssl.methods.autoencoder import input_channels
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod, thumbnail_decoder
from tinyssl.methods.supervised import weak_augment
from tinyssl.models import Net


def to_grey(images: torch.Tensor) -> torch.Tensor:
    """N×3×H×W in [0, 1] → N×1×H×W luma (ITU-R 601, Pillow's 'L')."""
    weights = images.new_tensor(LUMA).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True)


def chroma(images: torch.Tensor) -> torch.Tensor:
    """N×3×H×W in [0, 1] → N×2×H×W Cb, Cr centred on 0 (the colour a grey image lacks)."""
    y = to_grey(images)
    return torch.cat([(images[:, 2:3] - y) * 0.564, (images[:, 0:1] - y) * 0.713], dim=1)


def colorization_loss(predicted: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """MSE between predicted and true chroma thumbnails (`predicted`'s size): 0 when the
    colours are right."""
    target = F.adaptive_avg_pool2d(chroma(images), predicted.shape[-2:])
    return F.mse_loss(predicted, target)


class Colorization(PretextMethod):
    """Options: recon_size (chroma thumbnail side, 8), hidden (decoder width, 512), flip,
    collapse_threshold, check_every."""

    name = "colorization"

    def __init__(self, net: Net, num_classes: int, recon_size: int = 8, hidden: int = 512,
                 **options: Any) -> None:
        if input_channels(net) != 3:
            raise ValueError("colorization predicts colours from grey images, but this data "
                             "is greyscale (1 channel): use inpainting, rotation or simclr.")
        super().__init__(net, num_classes, **options)
        self.options.update(recon_size=recon_size, hidden=hidden)
        self.shape = (2, recon_size, recon_size)
        self.decoder = thumbnail_decoder(self.feature_dim, hidden, self.shape)

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        images = self.images(unlabeled)
        images = weak_augment(images.shape[-1], self.flip)(images)
        h = self.features(to_grey(images).expand(-1, 3, -1, -1))
        predicted = torch.tanh(self.decoder(h)).view(-1, *self.shape) * 0.5
        return self.output(colorization_loss(predicted, images), h)
