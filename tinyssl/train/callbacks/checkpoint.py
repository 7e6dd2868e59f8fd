"""checkpoints/last.pt at every validation and at least every `checkpoint_every_s` seconds,
so a `kill -9` loses at most that much training (Ctrl-C saves at once, in the loop)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tinyssl.train.callbacks.base import Callback
from tinyssl.train.callbacks.validation import validation_due

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


class LastCheckpoint(Callback):
    order = 40  # after every callback that changes the state at this step

    def __init__(self) -> None:
        self._saved_at = time.monotonic()

    def on_start(self, trainer: Trainer) -> None:
        self._saved_at = time.monotonic()

    def after_step(self, trainer: Trainer) -> None:
        overdue = time.monotonic() - self._saved_at >= trainer.cfg.checkpoint_every_s
        # `or` short-circuits alike on every process: `any` is a collective under DDP
        if validation_due(trainer.step, trainer.cfg) or trainer.dist.any(overdue,
                                                                          trainer.device):
            trainer.save_last()
            self._saved_at = time.monotonic()
