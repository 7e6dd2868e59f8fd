"""Batched augmentations on the training device (uint8 NCHW in, float [0, 1] out)."""

from tinyssl.augment.basic import StrongAugment, WeakAugment, to_float

__all__ = ["StrongAugment", "WeakAugment", "to_float"]
