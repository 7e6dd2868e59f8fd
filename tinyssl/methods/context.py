"""Context prediction (Doersch, Gupta & Efros, "Unsupervised Visual Representation Learning
by Context Prediction", ICCV 2015): where, among its 8 neighbours on a 3×3 grid, does the
second patch sit relative to the centre patch?

As in the paper, patches are separated by a gap and jittered inside their grid cell, so the
network cannot solve the task by continuing edges across the border. Both patches go
through the shared encoder and a small float head reads their concatenated features. Our
FINN encoders need inputs of the full image size (unpadded 3×3 convolutions leave nothing of
a small patch), so each patch is cut and resized back with kornia's crop_and_resize.

Progress signal: `context_acc`, the patch-position accuracy (chance 1/8).
"""

from __future__ import annotations

from typing import Any

import torch
from kornia.geometry.transform import crop_and_resize
from torch.nn import functional as F  # noqa: N812

from tinyssl.augment import to_float
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod, mlp
from tinyssl.models import Net

#: (row, column) of the 8 neighbours on the 3×3 grid, in raster order: the position labels.
NEIGHBOURS = [(r, c) for r in range(3) for c in range(3) if (r, c) != (1, 1)]


def patch_boxes(cells: torch.Tensor, image_size: int, gap: float) -> torch.Tensor:
    """N×2 (row, column) grid cells → N×4×2 kornia boxes of one jittered patch in each.

    Each cell is side // 3 pixels; the patch leaves a `gap` fraction of it (at least one
    pixel) and is placed at a random offset inside its cell."""
    cell = image_size // 3
    if cell < 2:
        raise ValueError(f"context prediction needs images of at least 6 pixels (got "
                         f"{image_size}).")
    patch = max(1, cell - max(1, round(gap * cell)))
    start = (image_size - 3 * cell) // 2  # centre the grid
    jitter = torch.randint(0, cell - patch + 1, cells.shape)
    y0, x0 = (start + cells * cell + jitter).float().unbind(1)
    x1, y1 = x0 + patch - 1, y0 + patch - 1
    return torch.stack([torch.stack([x0, y0], 1), torch.stack([x1, y0], 1),
                        torch.stack([x1, y1], 1), torch.stack([x0, y1], 1)], 1)


def context_pairs(x: torch.Tensor, labels: torch.Tensor, gap: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Float images N×C×S×S and neighbour labels (0-7) → the centre patches and the
    neighbour patches, each resized to S×S."""
    n, size = len(x), x.shape[-1]
    centre = torch.ones(n, 2, dtype=torch.long)
    neighbour = torch.tensor(NEIGHBOURS)[labels.cpu()]
    boxes = patch_boxes(torch.cat([centre, neighbour]), size, gap).to(x.device)
    patches = crop_and_resize(torch.cat([x, x]), boxes, (size, size))
    return patches[:n], patches[n:]


class Context(PretextMethod):
    """Options: gap (fraction of a grid cell left between patches, 0.25), hidden (head
    width, 256), flip, collapse_threshold, check_every."""

    name = "context"
    stuck_reason = ("neighbouring patches of these images may look alike in every direction, "
                    "so their relative position cannot be told")

    def __init__(self, net: Net, num_classes: int, gap: float = 0.25, hidden: int = 256,
                 **options: Any) -> None:
        super().__init__(net, num_classes, **options)
        if not 0 <= gap < 1:
            raise ValueError(f"context: gap is a fraction of a grid cell, in [0, 1) (got {gap}).")
        self.options.update(gap=gap, hidden=hidden)
        self.gap = gap
        self.head = mlp(2 * self.feature_dim, hidden, len(NEIGHBOURS))

    def task_chance(self) -> dict[str, float]:
        return {"context_acc": 1 / len(NEIGHBOURS)}

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        x = to_float(self.images(unlabeled))
        if self.flip:  # flip the whole image first: the labels stay what they are
            x = torch.where(torch.rand(len(x), 1, 1, 1, device=x.device) < 0.5, x.flip(3), x)
        labels = torch.randint(len(NEIGHBOURS), (len(x),), device=x.device)
        centre, neighbour = context_pairs(x, labels, self.gap)
        h = self.features(torch.cat([centre, neighbour]))
        logits = self.head(torch.cat(h.chunk(2), dim=1))
        loss = F.cross_entropy(logits, labels)
        acc = (logits.detach().argmax(1) == labels).float().mean()
        return self.output(loss, h, context_acc=acc)
