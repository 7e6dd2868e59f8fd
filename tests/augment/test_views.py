"""SimCLR views: uint8 in, float [0, 1] out, same shape, random, greyscale kept grey."""

from __future__ import annotations

import pytest
import torch

from tinyssl.augment.views import SimCLRViews, simclr_views


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.mark.parametrize("channels", [1, 3])
def test_views_are_float_images_of_the_same_shape(channels: int) -> None:
    x = torch.randint(0, 256, (16, channels, 20, 20), dtype=torch.uint8)
    views = SimCLRViews(20)
    a, b = views(x), views(x)
    assert a.shape == x.shape and a.dtype == torch.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert not torch.allclose(a, b)  # two draws differ: a positive pair, not a copy


def test_views_keep_content_without_colour_ops() -> None:
    """With full-size crops, no flip, no jitter and no blur a view is the image itself
    (up to grayscale, which leaves a grey image unchanged)."""
    x = torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.uint8)
    views = SimCLRViews(16, flip=False, strength=0.0, crop_scale=(1.0, 1.0), blur=False)
    torch.testing.assert_close(views(x), x.float() / 255, atol=2e-2, rtol=0)


def test_bad_crop_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="crop_scale"):
        SimCLRViews(16, crop_scale=(0.0, 1.0))


def test_augmenters_are_shared_per_setting() -> None:
    assert simclr_views(16, True, 0.5, 0.2, True) is simclr_views(16, True, 0.5, 0.2, True)
