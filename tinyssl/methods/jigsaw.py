"""Jigsaw (after Noroozi & Favaro 2016): which permutation shuffled the image's tiles?

The original feeds each tile to a shared encoder; our FINN encoders need whole images
(unpadded 3×3 convolutions leave nothing of an 8-pixel tile), so the shuffled tiles are
reassembled into one image of the original size and the encoder classifies the permutation.
A 2×2 grid uses all 24 permutations; larger grids a fixed, seeded subset (`permutations`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from tinyssl.augment import to_float
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import PretextMethod
from tinyssl.models import Net


def permutation_set(grid: int, count: int, seed: int = 0) -> torch.Tensor:
    """`count` distinct permutations of grid² tiles (identity first), P×grid² int64."""
    tiles = grid * grid
    if count > math.factorial(tiles) or count < 2:
        raise ValueError(f"permutations must be in [2, {math.factorial(tiles)}] for a "
                         f"{grid}×{grid} grid (got {count}).")
    if math.factorial(tiles) <= 5040:  # small enough to list
        every = torch.tensor(list(itertools.permutations(range(tiles))))
        g = torch.Generator().manual_seed(seed)
        order = torch.cat([torch.zeros(1, dtype=torch.long),
                           1 + torch.randperm(len(every) - 1, generator=g)])
        return every[order[:count]]
    g = torch.Generator().manual_seed(seed)
    chosen = {tuple(range(tiles))}
    while len(chosen) < count:
        chosen.add(tuple(torch.randperm(tiles, generator=g).tolist()))
    return torch.tensor(sorted(chosen, key=lambda p: p != tuple(range(tiles))))


def shuffle_tiles(x: torch.Tensor, perms: torch.Tensor, labels: torch.Tensor,
                  grid: int) -> torch.Tensor:
    """Tile j of output image i is tile perms[labels[i], j] of input image i.

    Images are cropped to a multiple of `grid` first (the tiles must be equal)."""
    n, c, h, w = x.shape
    th, tw = h // grid, w // grid
    x = x[:, :, :th * grid, :tw * grid]
    tiles = x.reshape(n, c, grid, th, grid, tw).permute(0, 2, 4, 1, 3, 5).reshape(
        n, grid * grid, c, th, tw)
    order = perms.to(x.device)[labels]  # N × grid²
    tiles = tiles[torch.arange(n, device=x.device)[:, None], order]
    return tiles.reshape(n, grid, grid, c, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(
        n, c, grid * th, grid * tw)


class Jigsaw(PretextMethod):
    """Options: grid (2), permutations (24), flip, collapse_threshold, check_every."""

    name = "jigsaw"
    stuck_reason = ("the tiles of these images may look alike wherever they sit (textures, "
                    "repeated structure), so their order cannot be told")

    def __init__(self, net: Net, num_classes: int, grid: int = 2, permutations: int = 24,
                 **options: Any) -> None:
        super().__init__(net, num_classes, **options)
        self.options.update(grid=grid, permutations=permutations)
        self.grid = grid
        self.register_buffer("perms", permutation_set(grid, permutations), persistent=False)
        self.head = nn.Linear(self.feature_dim, permutations)

    def task_chance(self) -> dict[str, float]:
        return {"jigsaw_acc": 1 / len(self.perms)}

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        x = to_float(self.images(unlabeled))
        if self.flip:
            x = torch.where(torch.rand(len(x), 1, 1, 1, device=x.device) < 0.5, x.flip(3), x)
        labels = torch.randint(len(self.perms), (len(x),), device=x.device)
        shuffled = shuffle_tiles(x, self.perms, labels, self.grid)
        size = x.shape[-1]
        if shuffled.shape[-1] != size:  # back to the encoder's input size after cropping
            shuffled = F.interpolate(shuffled, size=(size, size), mode="bilinear",
                                     align_corners=False)
        h = self.features(shuffled)
        logits = self.head(h)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.detach().argmax(1) == labels).float().mean()
        return self.output(loss, h, jigsaw_acc=acc)
