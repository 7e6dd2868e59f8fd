"""Endless random batches from images held in memory on the training device.

All images of a split live in one uint8 NCHW tensor on the device; a stream only keeps
indices, so drawing a batch is one gather, with no per-image Python and no DataLoader
workers. Each epoch's order is a permutation seeded by (seed, epoch), so the stream's whole
state is two integers (`epoch`, `pos`) and resuming reproduces it exactly. Under DDP each
rank takes every world-th element of the same permutation, as DistributedSampler does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def images_to_device(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 N×H×W×C (numpy or memmap) → uint8 N×C×H×W on `device`, without a float copy."""
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).contiguous().to(device)


@dataclass
class Drawn:
    index: torch.Tensor  # positions into the stream's pool (device)
    y: torch.Tensor | None


class BatchStream:
    """Random batches of `batch_size` over `index` (positions into a shared image tensor)."""

    def __init__(self, index: np.ndarray, y: np.ndarray | None, batch_size: int, seed: int,
                 device: torch.device, rank: int = 0, world: int = 1) -> None:
        if len(index) == 0:
            raise ValueError("cannot draw batches from an empty set of images.")
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        self.device = device
        self.epoch, self.pos = 0, 0
        self._order: torch.Tensor | None = None
        self.reset(index, y)

    def reset(self, index: np.ndarray, y: np.ndarray | None) -> None:
        """Replace the pool (pseudo-label growth); the next batch starts a fresh epoch."""
        self.index = torch.as_tensor(np.asarray(index, dtype=np.int64), device=self.device)
        self.y = None if y is None else torch.as_tensor(np.asarray(y, dtype=np.int64),
                                                        device=self.device)
        if self.pos:
            self.epoch, self.pos = self.epoch + 1, 0
        self._order = None

    def _shard(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(len(self.index), generator=g)
        shard = perm[self.rank::self.world]
        return (shard if len(shard) else perm).to(self.device)  # tiny sets: every rank gets all

    def next(self) -> Drawn:
        parts, need = [], self.batch_size
        while need:
            if self._order is None:
                self._order = self._shard()
            chunk = self._order[self.pos:self.pos + need]
            parts.append(chunk)
            need -= len(chunk)
            self.pos += len(chunk)
            if self.pos >= len(self._order):
                self.epoch, self.pos, self._order = self.epoch + 1, 0, None
        order = torch.cat(parts) if len(parts) > 1 else parts[0]
        return Drawn(self.index[order], None if self.y is None else self.y[order])

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.pos, self._order = int(state["epoch"]), int(state["pos"]), None
