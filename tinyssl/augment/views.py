"""SimCLR's strong views (Chen et al. 2020, appendix A), batched on the device with kornia.

Random resized crop → horizontal flip → colour jitter (p=0.8) → grayscale (p=0.2) →
Gaussian blur (p=0.5). uint8 NCHW in, float NCHW in [0, 1] out. Greyscale images go
through the colour ops as three equal channels and come back as their mean, so the same
recipe serves digits, X-rays and natural images. `strength` scales the jitter (SimCLR uses
1.0 on ImageNet, 0.5 on CIFAR-10); the blur kernel is ~10% of the image side, as in the paper.
"""

from __future__ import annotations

from functools import lru_cache

import kornia.augmentation as K  # noqa: N812
import torch
from torch import nn

from tinyssl.augment.basic import to_float


class SimCLRViews(nn.Module):
    """One random view per image; call twice for the positive pair."""

    def __init__(self, image_size: int, flip: bool = True, strength: float = 0.5,
                 crop_scale: tuple[float, float] = (0.2, 1.0), blur: bool = True) -> None:
        super().__init__()
        if not 0 < crop_scale[0] <= crop_scale[1] <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < min <= max <= 1 (got {crop_scale}).")
        s = strength
        ops: list[nn.Module] = [K.RandomResizedCrop((image_size, image_size), scale=crop_scale)]
        if flip:
            ops.append(K.RandomHorizontalFlip())
        if s > 0:
            ops.append(K.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, min(0.2 * s, 0.5), p=0.8))
        ops.append(K.RandomGrayscale(p=0.2))
        if blur:
            kernel = max(3, (image_size // 10) | 1)  # odd, ~10% of the side
            ops.append(K.RandomGaussianBlur((kernel, kernel), (0.1, 2.0), p=0.5))
        self.ops = K.AugmentationSequential(*ops)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_float(x)
        if x.shape[1] == 1:  # colour jitter and grayscale need three channels
            return self.ops(x.expand(-1, 3, -1, -1)).mean(1, keepdim=True).clamp_(0.0, 1.0)
        return self.ops(x).clamp_(0.0, 1.0)


@lru_cache(maxsize=16)
def simclr_views(image_size: int, flip: bool, strength: float,
                 crop_min: float, blur: bool) -> SimCLRViews:
    """Augmenters hold no state: one per setting is shared by every method and step."""
    return SimCLRViews(image_size, flip, strength, (crop_min, 1.0), blur)
