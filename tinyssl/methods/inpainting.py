"""Inpainting (context encoders, Pathak et al. 2016): a square region of each image is
blanked out and the network must reconstruct it from the context around it. The float
decoder predicts a `recon_size`² thumbnail of the whole image; the loss counts only the
thumbnail cells inside the blanked region (the paper's masked reconstruction loss), so
copying the visible context earns nothing. No adversarial term: at FPGA-network sizes it
adds instability for no measured gain.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from tinyssl.methods.autoencoder import input_channels
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod, thumbnail_decoder
from tinyssl.methods.supervised import weak_augment
from tinyssl.models import Net


def random_square_masks(n: int, size: int, fraction: float, device: torch.device,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """N×1×size×size float masks, 1 inside one random square of side fraction·size per
    image, built for the whole batch at once (no per-image loop)."""
    side = max(1, round(fraction * size))
    top = torch.randint(0, size - side + 1, (n, 1, 1, 1), device=device, generator=generator)
    left = torch.randint(0, size - side + 1, (n, 1, 1, 1), device=device, generator=generator)
    rows = torch.arange(size, device=device).view(1, 1, size, 1)
    cols = torch.arange(size, device=device).view(1, 1, 1, size)
    return ((rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)).float()


def masked_reconstruction_loss(predicted: torch.Tensor, images: torch.Tensor,
                               masks: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the masked cells of the thumbnail grid (`predicted`'s size),
    weighted by how much of each cell was masked: 0 for a perfect reconstruction of the
    hidden region, whatever is predicted outside it."""
    target = F.adaptive_avg_pool2d(images, predicted.shape[-2:])
    weight = F.adaptive_avg_pool2d(masks, predicted.shape[-2:])
    err = (predicted - target).pow(2).mean(1, keepdim=True) * weight
    return err.sum() / weight.sum().clamp(min=1e-8)


class Inpainting(PretextMethod):
    """Options: mask (side of the blanked square as a fraction of the image side, 0.5),
    recon_size (8), hidden (decoder width, 512), flip, collapse_threshold, check_every."""

    name = "inpainting"

    def __init__(self, net: Net, num_classes: int, mask: float = 0.5, recon_size: int = 8,
                 hidden: int = 512, **options: Any) -> None:
        if not 0 < mask < 1:
            raise ValueError(f"inpainting option mask must be in (0, 1) (got {mask}).")
        super().__init__(net, num_classes, **options)
        self.options.update(mask=mask, recon_size=recon_size, hidden=hidden)
        self.mask = mask
        self.shape = (input_channels(net), recon_size, recon_size)
        self.decoder = thumbnail_decoder(self.feature_dim, hidden, self.shape)

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        images = self.images(unlabeled)
        images = weak_augment(images.shape[-1], self.flip)(images)
        masks = random_square_masks(len(images), images.shape[-1], self.mask, images.device)
        h = self.features(images * (1 - masks) + 0.5 * masks)  # blanked to mid-grey
        predicted = torch.sigmoid(self.decoder(h)).view(-1, *self.shape)
        return self.output(masked_reconstruction_loss(predicted, images, masks), h)
