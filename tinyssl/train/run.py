"""One training run from its config: resolve the config (a resumed or extended run uses its
own), pick the device and processes, install the callbacks, train."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from tinyssl.config import TrainConfig, load_config
from tinyssl.runs import load_checkpoint
from tinyssl.train.callbacks.base import Callback
from tinyssl.train.callbacks.checkpoint import LastCheckpoint
from tinyssl.train.callbacks.early_stopping import EarlyStopping
from tinyssl.train.callbacks.fast_quant import FastQuant
from tinyssl.train.callbacks.growth import Growth
from tinyssl.train.callbacks.progress import ProgressCallback
from tinyssl.train.callbacks.summary import Verdict
from tinyssl.train.callbacks.tensorboard import TensorBoard
from tinyssl.train.callbacks.validation import Validation
from tinyssl.train.device import pick_device
from tinyssl.train.distributed import Dist
from tinyssl.train.loop import SplitRule, Trainer


def _extend(run: Path, cfg: TrainConfig, steps: int) -> None:
    """A run continued to more steps: its config.yaml records the new length."""
    last = run / "checkpoints" / "last.pt"
    done = load_checkpoint(last)["step"] if last.is_file() else 0
    if steps < max(done, 1):
        raise ValueError(f"{run} has already trained {done} steps; --steps {steps} cannot "
                         "shorten it.")
    cfg.steps = steps
    cfg.save(run / "config.yaml")


def run_config(cfg: TrainConfig, resume: Path | None, extend_to: int | None) -> TrainConfig:
    """The config a run trains with: `cfg`, or a resumed run's own (extended to
    `extend_to` steps if given), validated."""
    if resume is not None:
        resume = Path(resume)
        if not (resume / "config.yaml").is_file():
            raise ValueError(f"{resume} is not a run directory (no config.yaml).")
        cfg = load_config(resume / "config.yaml", {})
        if extend_to is not None:
            _extend(resume, cfg, extend_to)
    return cfg.validate()


def default_callbacks(cfg: TrainConfig) -> list[Callback]:
    """The train layer's features a config switches on (labelling rounds are the select
    layer's: tinyssl.pipeline.run_training adds them)."""
    growth = [Growth()] if cfg.pseudo_label or cfg.method == "pseudolabel" else []
    fast = [FastQuant()] if cfg.fast_quant else []
    stop = [EarlyStopping(cfg.early_stop_patience)] if cfg.early_stop_patience else []
    loggers = [TensorBoard()] if cfg.log == "tensorboard" else []
    return [ProgressCallback(), *fast, Validation(), *stop, *growth, LastCheckpoint(), Verdict(),
            *loggers]


def train(cfg: TrainConfig, runs_root: Path, resume: Path | None = None,
          extra: Sequence[Callback] = (), split_rule: SplitRule | None = None) -> Path:
    """Train one run of a validated config (see run_config) → its run directory."""
    device = pick_device(cfg.device)
    dist = Dist.from_env(device.type)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    try:
        callbacks = [*default_callbacks(cfg), *extra]
        return Trainer(cfg, device, dist, Path(runs_root), Path(resume) if resume else None,
                       callbacks, split_rule).fit()
    finally:
        dist.close()
