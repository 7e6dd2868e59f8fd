"""Denoising autoencoder: reconstruct the clean image from the encoder features of a noisy,
randomly shifted copy. The decoder is a small float MLP on the method, never exported.

It reconstructs a `recon_size`² thumbnail (area-averaged) rather than the full image: the
decoder stays small and independent of the image size, so it can be built before the first
batch (the trainer builds the optimiser right after the method).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod, thumbnail_decoder
from tinyssl.methods.supervised import weak_augment
from tinyssl.models import Net


def input_channels(net: Net) -> int:
    """Channels of the first convolution: what the network takes."""
    conv = next(m for m in net.encoder.modules() if isinstance(m, nn.Conv2d))
    return conv.in_channels


class Autoencoder(PretextMethod):
    """Options: noise (std of Gaussian pixel noise on the input, 0.1), recon_size (8),
    hidden (decoder width, 512), flip, collapse_threshold, check_every."""

    name = "autoencoder"

    def __init__(self, net: Net, num_classes: int, noise: float = 0.1, recon_size: int = 8,
                 hidden: int = 512, **options: Any) -> None:
        super().__init__(net, num_classes, **options)
        self.options.update(noise=noise, recon_size=recon_size, hidden=hidden)
        self.noise = noise
        self.shape = (input_channels(net), recon_size, recon_size)
        self.decoder = thumbnail_decoder(self.feature_dim, hidden, self.shape)

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        images = self.images(unlabeled)
        clean = weak_augment(images.shape[-1], self.flip)(images)
        noisy = (clean + self.noise * torch.randn_like(clean)).clamp(0.0, 1.0)
        h = self.features(noisy)
        recon = torch.sigmoid(self.decoder(h)).view(-1, *self.shape)
        loss = F.mse_loss(recon, F.adaptive_avg_pool2d(clean, self.shape[1:]))
        return self.output(loss, h)
