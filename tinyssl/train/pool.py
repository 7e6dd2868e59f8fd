"""The images a run trains on, placed on the device once, and which of them are labelled.

Pseudo-label growth and labelling rounds move images from the unlabelled to the labelled
part (`move_to_labeled`); the batch streams then draw from the new parts. A few unlabelled
images can be held out of training (`holdout_idx`) for a label-free validation score
(agreement with `Method.holdout_reference`: early stopping with no labels to spare).
"""

from __future__ import annotations

import numpy as np
import torch

from tinyssl.data.stream import images_to_device
from tinyssl.data.types import DataBundle, Split
from tinyssl.train.setup import cap_pool


class Pool:
    """`x`: training pool (train + the source's unlabelled images) as uint8 NCHW on the
    device; `y`: their true labels (-1 unknown); validation and test images beside it."""

    def __init__(self, bundle: DataBundle, split: Split, device: torch.device,
                 unlabeled_cap: float | None, seed: int, holdout: int = 0) -> None:
        parts, ys = [bundle.train.x], [bundle.train.y]
        if bundle.unlabeled is not None and len(bundle.unlabeled):
            parts.append(bundle.unlabeled.x)
            ys.append(np.full(len(bundle.unlabeled), -1, dtype=np.int64))
        self.x = images_to_device(np.concatenate(parts) if len(parts) > 1 else parts[0],
                                  device)
        self.y = np.concatenate(ys).astype(np.int64)
        self.val_x = self.x[torch.as_tensor(split.val, device=device)]
        self.val_y = torch.as_tensor(bundle.train.y[split.val], device=device)
        self.test_x = images_to_device(bundle.test.x, device)
        self.test_y = bundle.test.y.astype(np.int64)
        self.labeled_idx = split.labeled.astype(np.int64)
        self.labeled_y = bundle.train.y[split.labeled].astype(np.int64)
        extra = np.arange(len(bundle.train), len(self.y), dtype=np.int64)
        self.unlabeled_idx = cap_pool(np.concatenate([split.unlabeled.astype(np.int64), extra]),
                                      unlabeled_cap, seed)
        self.unlabeled_idx, self.holdout_idx = hold_out(self.unlabeled_idx, holdout, seed)
        self.cap, self.seed = unlabeled_cap, seed

    def every_image(self) -> np.ndarray:
        """What a pretext task trains on: every pool image, capped by --unlabeled."""
        return cap_pool(np.arange(len(self.y)), self.cap, self.seed)

    def images(self, index: np.ndarray) -> torch.Tensor:
        return self.x[torch.as_tensor(index, device=self.x.device)]

    def bn_images(self, count: int = 1024) -> torch.Tensor:
        """Evenly spaced training images (labelled and unlabelled, never validation)."""
        train = np.sort(np.concatenate([self.labeled_idx, self.unlabeled_idx]))
        pick = train[np.linspace(0, len(train) - 1, min(count, len(train))).astype(np.int64)]
        return self.images(pick)

    def move_to_labeled(self, positions: np.ndarray, labels: np.ndarray) -> None:
        """Unlabelled pool positions → the labelled set with `labels`."""
        moved = self.unlabeled_idx[positions]
        self.labeled_idx = np.concatenate([self.labeled_idx, moved])
        self.labeled_y = np.concatenate([self.labeled_y, labels.astype(np.int64)])
        self.unlabeled_idx = np.delete(self.unlabeled_idx, positions)


def hold_out(pool: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool without the held-out images, `count` held-out images): a seeded draw of its own
    stream, so the split's and the pool cap's draws are unchanged. At most a quarter of the
    pool is held out, so a small pool still trains on most of its images."""
    count = min(count, len(pool) // 4)
    if count <= 0:
        return pool, pool[:0]
    rng = np.random.default_rng([seed, 0x401D])
    out = np.zeros(len(pool), dtype=bool)
    out[rng.choice(len(pool), size=count, replace=False)] = True
    return pool[~out], pool[out]
