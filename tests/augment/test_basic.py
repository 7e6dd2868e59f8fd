"""Weak and strong augmentation: batched uint8 in, float [0, 1] out, and the "mild" strong
policy keeps colour cues that the full RandAugment list repaints."""

from __future__ import annotations

import pytest
import torch

from tinyssl.augment import StrongAugment, WeakAugment
from tinyssl.methods import get_method
from tinyssl.models import build_model


def _red_cells(n: int = 64, size: int = 32) -> torch.Tensor:
    """Saturated red discs on black: colour is the whole signal."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2).to(torch.uint8)
    x = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    x[:, 0] = disc * 220
    return x


@pytest.mark.parametrize("channels", [1, 3])
def test_augmenters_keep_shape_and_range(channels: int) -> None:
    x = torch.randint(0, 256, (8, channels, 28, 28), dtype=torch.uint8)
    for aug in (WeakAugment(28), StrongAugment(28, policy="full"),
                StrongAugment(28, policy="mild")):
        out = aug(x)
        assert out.shape == x.shape and out.dtype == torch.float32
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_weak_augment_only_translates() -> None:
    torch.manual_seed(0)
    x = _red_cells(16)
    out = WeakAugment(32)(x)
    assert torch.all(out[:, 1:] == 0)  # no colour change: green and blue stay empty
    assert not torch.equal(out, x.float() / 255)  # but the discs moved


def test_mild_policy_never_repaints_colour_but_full_does() -> None:
    torch.manual_seed(0)
    x = _red_cells()
    mild = StrongAugment(32, n=2, m=10, policy="mild")(x)
    assert torch.all(mild[:, 0] >= mild[:, 2] - 1e-6)  # red never turns blue-dominant
    full = torch.cat([StrongAugment(32, n=2, m=10, policy="full")(x) for _ in range(4)])
    assert torch.any(full[:, 2] > full[:, 0] + 0.2)  # invert/solarize repaint some cells


def test_unknown_policy_is_refused_when_the_method_is_built() -> None:
    net = build_model("tiny-w2a2", 1, 16, 10)
    for method in ("uda", "fixmatch"):
        with pytest.raises(ValueError, match="unknown RandAugment policy 'stain'"):
            get_method(method)(net, 10, randaugment_policy="stain")
