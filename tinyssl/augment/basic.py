"""Weak and strong augmentation, batched on the training device (kornia).

Both take uint8 NCHW (as the batch streams hand them out) and return float NCHW in [0, 1],
the input every model expects. Weak = random translation by pad-and-crop (+ optional
horizontal flip); strong = weak + RandAugment + Cutout, the recipe UDA and FixMatch use.
Flips default off: they change the meaning of digits and text; turn them on for natural images.
"""

from __future__ import annotations

import kornia.augmentation as K  # noqa: N812
import torch
from kornia.augmentation.auto import RandAugment
from torch import nn


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels → float in [0, 1] (what the models' 8-bit input quantizer expects)."""
    return x.float().div_(255.0)


def _pad(image_size: int) -> int:
    """Translate by up to 1/8 of the image (4 px at 32×32, as in the UDA/FixMatch papers)."""
    return max(1, image_size // 8)


class WeakAugment(nn.Module):
    """Random translation (reflect-pad, random crop) and, optionally, a horizontal flip."""

    def __init__(self, image_size: int, flip: bool = False) -> None:
        super().__init__()
        ops: list[nn.Module] = [K.RandomCrop((image_size, image_size), padding=_pad(image_size),
                                             padding_mode="reflect")]
        if flip:
            ops.insert(0, K.RandomHorizontalFlip())
        self.ops = K.AugmentationSequential(*ops)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops(to_float(x))


#: RandAugment operation sets. "full" is kornia's default policy (the papers' list). "mild"
#: drops the operations that repaint colours (invert, solarize, posterize, equalize,
#: auto-contrast): in stained microscopy colour is the class cue, and consistency towards a
#: solarised cell teaches the network to ignore it.
POLICIES: dict[str, list | None] = {
    "full": None,
    "mild": [[("rotate", -30.0, 30.0)], [("shear_x", -0.3, 0.3)], [("shear_y", -0.3, 0.3)],
             [("translate_x", -0.1, 0.1)], [("translate_y", -0.1, 0.1)],
             [("brightness", 0.1, 1.9)], [("contrast", 0.1, 1.9)],
             [("sharpness", 0.1, 1.9)], [("color", 0.1, 1.9)]],
}


class StrongAugment(nn.Module):
    """Weak augmentation, then RandAugment (n ops of magnitude m from `policy`), then one
    Cutout square.

    Cutout is kornia's RandomErasing with a square of about half the image side, filled with
    grey, applied to every image (as in the FixMatch paper's strong augmentation).
    """

    def __init__(self, image_size: int, flip: bool = False, n: int = 2, m: int = 10,
                 cutout: float = 0.5, policy: str = "full") -> None:
        super().__init__()
        if policy not in POLICIES:
            raise ValueError(f"unknown RandAugment policy '{policy}'; choose from "
                             f"{', '.join(POLICIES)}.")
        if not 0 <= cutout < 1:
            raise ValueError(f"cutout is the erased square's side as a fraction of the image, "
                             f"in [0, 1) (got {cutout}).")
        self.weak = WeakAugment(image_size, flip)
        self.randaugment = RandAugment(n=n, m=m, policy=POLICIES[policy])
        area = cutout**2
        self.cutout = (K.RandomErasing(scale=(area * 0.5, area), ratio=(1.0, 1.0), value=0.5,
                                       p=1.0) if cutout > 0 else nn.Identity())

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.weak(x)
        channels = x.shape[1]
        if channels == 1:  # RandAugment's colour ops need three channels
            x = self.randaugment(x.expand(-1, 3, -1, -1)).mean(1, keepdim=True)
        else:
            x = self.randaugment(x)
        return self.cutout(x.clamp_(0.0, 1.0))
