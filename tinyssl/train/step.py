"""One optimiser step: two batches from the streams → the method's loss → backward, update,
schedule, EMA. The trainer calls it through `Trainer.step_fn`, so a faster step (compiled,
fused) is a replacement for this function, not an edit of the loop."""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

import torch

from tinyssl.data.stream import BatchStream
from tinyssl.methods import Batch
from tinyssl.train.errors import TrainingDiverged

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


def next_batch(trainer: Trainer, stream: BatchStream | None) -> Batch | None:
    """The stream's next batch with its images from the device-resident pool."""
    if stream is None:
        return None
    drawn = stream.next()
    x = trainer.pool.x[drawn.index]
    if trainer.cuda and trainer.cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return Batch(x, drawn.y, drawn.index)


def train_step(trainer: Trainer, model: torch.nn.Module) -> float:
    """One step of `model` (the method, or its DDP wrapper) → the loss value."""
    t = trainer
    labeled, unlabeled = next_batch(t, t.labeled), next_batch(t, t.unlabeled)
    autocast = (torch.autocast("cuda", dtype=t.amp_dtype) if t.amp_dtype
                else contextlib.nullcontext())
    with autocast:
        out = model(labeled, unlabeled, t.step / t.cfg.steps)
    loss = out.loss.float()
    value = loss.item()  # one sync per step buys the NaN guard below
    if t.dist.any(not math.isfinite(value), t.device):
        raise TrainingDiverged(
            f"the loss became {value} at step {t.step + 1}; stopped. Try a lower --lr "
            f"or --amp off. The last good checkpoint is kept in {t.run / 'checkpoints'}.")
    t.opt.zero_grad(set_to_none=True)
    t.scaler.scale(loss).backward()
    t.scaler.step(t.opt)
    t.scaler.update()
    t.method.after_optimizer_step(t.step / t.cfg.steps)
    t.sched.step()
    if t.ema is not None:
        t.ema.update(t.net, t.step)
    n = sum(len(b.x) for b in (labeled, unlabeled) if b is not None)
    t.images_seen += n * t.dist.world
    t.add_logs({"loss": loss.detach(), **out.logs})
    return value
