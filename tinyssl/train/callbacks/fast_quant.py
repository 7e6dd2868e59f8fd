"""Trains the Brevitas layers through tinyssl.models.fast_quant (same numbers, less Python).

A callback rather than a line in the loop, so the trainer stays blind to it: `setup` runs
once the model, method and EMA copy exist, and switches every Brevitas layer they train or
evaluate — the network, copies a method keeps of it (BYOL's target encoder) and the EMA
copy — to the fast forward. Registered by `train.run.default_callbacks` unless the config
says `fast_quant: false` (`--no-fast-quant`). A distillation teacher is not a module of the
method (methods/distill.py) and stays on Brevitas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyssl.models.fast_quant import enable_fast_quant, train_fast
from tinyssl.train.callbacks.base import Callback

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


class FastQuant(Callback):
    order = 5  # before every callback that runs the network (validation at 10)

    def setup(self, trainer: Trainer) -> None:
        # the method holds the network; on an unsupported layer train_fast leaves all of
        # it on Brevitas with one note, and the EMA copy (the same layers) stays there too
        if train_fast(trainer.method) and trainer.ema is not None:
            enable_fast_quant(trainer.ema.module)
