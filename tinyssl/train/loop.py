"""The one training loop every method runs through, blind to features.

The trainer builds the run (data on the device, model, method, optimiser, EMA weights for
evaluation, batch streams, run directory), takes steps (AMP and channels-last on CUDA, DDP
under torchrun, NaN guard, Ctrl-C), checkpoints the state every part hands it, and calls
its callbacks (callbacks/base.py) around the steps. Validation, checkpoints, pseudo-label
growth, labelling rounds, progress and the test summary are callbacks; a method only turns
batches into a loss.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from tinyssl.config import TrainConfig
from tinyssl.data.stream import BatchStream
from tinyssl.data.types import DataBundle, Split
from tinyssl.methods import Method, get_method
from tinyssl.models import ModelSpec, model_spec_dict
from tinyssl.runs import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    environment,
    load_checkpoint,
    new_run_dir,
    save_checkpoint,
)
from tinyssl.train.callbacks.base import Callback
from tinyssl.train.distributed import Dist
from tinyssl.train.ema import EMA
from tinyssl.train.errors import TrainingInterrupted
from tinyssl.train.optim import build_optimizer, mixed_precision
from tinyssl.train.pool import Pool
from tinyssl.train.setup import (
    load_data,
    load_init,
    rng_state,
    run_slug,
    seed_everything,
    set_rng_state,
)
from tinyssl.train.step import train_step

#: How a run's split is chosen when its config names a selection rule (select layer).
SplitRule = Callable[[TrainConfig, DataBundle, Path | None], Split]


class Trainer:
    """Holds one run's state; `fit()` trains, checkpoints and writes the summary."""

    def __init__(self, cfg: TrainConfig, device: torch.device, dist: Dist, runs_root: Path,
                 resume: Path | None, callbacks: Sequence[Callback],
                 split_rule: SplitRule | None = None) -> None:
        self.cfg, self.device, self.dist = cfg, device, dist
        self.callbacks = sorted(callbacks, key=lambda c: c.order)
        seed_everything(cfg.seed)  # identical model initialisation on every rank
        self.bundle, self.split = load_data(cfg, resume, split_rule)
        self.pool = Pool(self.bundle, self.split, device, cfg.unlabeled, cfg.seed,
                         cfg.holdout_unlabeled)
        h, w, c = self.bundle.image_shape
        # max(1, …): a pretext run on images without classes still gets a (unused) head
        self.spec = ModelSpec(cfg.model, c, h, max(1, self.bundle.num_classes), cfg.width_mult)
        self.net = self.spec.build().to(device)
        if cfg.init:
            load_init(self.net, self.spec, Path(cfg.init), self.pool.bn_images(512))
        if cfg.freeze_encoder:
            self.net.encoder.requires_grad_(False)
        # option names and types were checked with the config (TrainConfig.validate)
        self.method: Method = get_method(cfg.method)(self.net, self.bundle.num_classes,
                                                     **cfg.method_options)
        self.method.bind_pool(len(self.pool.y))
        self.cuda = device.type == "cuda"
        self.method.to(device)
        if self.cuda and cfg.channels_last:
            self.method.to(memory_format=torch.channels_last)
        self.ema = EMA(self.net, cfg.ema) if cfg.ema > 0 else None
        self.opt, self.sched = build_optimizer(
            cfg, [p for p in self.method.parameters() if p.requires_grad])
        self.amp_dtype, self.scaler = mixed_precision(cfg, device)
        self._build_streams()
        #: One optimiser step (step.py); a callback's setup may wrap or replace it (a
        #: compiled step, say) with a function of the same signature.
        self.step_fn: Callable[[Trainer, torch.nn.Module], float] = train_step
        for cb in self.callbacks:
            cb.setup(self)
        # Only now, with the model, method options and schedule checked, does the run
        # directory exist: a refused run leaves nothing behind.
        self.run = self._open_run_dir(runs_root, resume)

        self.step, self.last_loss = 0, float("nan")
        self.train_time, self.images_seen = 0.0, 0
        self._stop = self._finish = self._reset_mode = False
        self._acc: dict[str, Any] = {}
        self._acc_n = 0
        torch.manual_seed(cfg.seed * 7919 + dist.rank)  # augmentation differs per rank
        if resume is not None and (self.run / "checkpoints" / "last.pt").is_file():
            self._restore(load_checkpoint(self.run / "checkpoints" / "last.pt"))
            if self.dist.main:
                print(f"resuming {self.run} from step {self.step} of {cfg.steps}",
                      file=sys.stderr)

    # ----------------------------------------------------------------- set-up
    def _open_run_dir(self, runs_root: Path, resume: Path | None) -> Path:
        run = resume
        fresh = run is None or not (run / "split.npz").is_file()  # `fit` names its stage dirs
        if self.dist.main and fresh:
            run = run or new_run_dir(runs_root, self.cfg.name or run_slug(self.cfg))
            self.cfg.save(run / "config.yaml")
            self.split.save(run / "split.npz")
            atomic_write_json(run / "env.json", environment())
        return Path(self.dist.broadcast(str(run)))

    def _build_streams(self) -> None:
        cfg, m, d = self.cfg, self.method, self.dist
        args = {"seed": cfg.seed, "device": self.device, "rank": d.rank, "world": d.world}
        self.labeled = (BatchStream(self.pool.labeled_idx, self.pool.labeled_y, cfg.batch_size,
                                    **args) if m.uses_labeled else None)
        self.unlabeled = None
        if not m.uses_labeled:  # pretext tasks see every training image (up to --unlabeled)
            self.unlabeled = BatchStream(self.pool.every_image(), None, cfg.batch_size,
                                         **{**args, "seed": cfg.seed + 1})
        elif m.uses_unlabeled:
            if len(self.pool.unlabeled_idx) == 0:
                raise ValueError(f"method {cfg.method} learns from unlabelled images, but no "
                                 "training image is left unlabelled: give --labels or "
                                 "--labels-per-class (or a larger --unlabeled).")
            size = max(1, round(cfg.batch_size * cfg.unlabeled_ratio))
            self.unlabeled = BatchStream(self.pool.unlabeled_idx, None, size,
                                         **{**args, "seed": cfg.seed + 1})

    # ------------------------------------------------------------- checkpoints
    def _state(self) -> dict[str, Any]:
        rngs = self.dist.gather(rng_state())  # collective: every rank calls it
        p = self.pool
        state = {
            "model": self.eval_net.state_dict(), "model_spec": model_spec_dict(self.spec),
            "classes": list(self.bundle.classes), "step": self.step,
            "method": self.method.state_dict(), "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(), "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None, "rng": rngs,
            "streams": {k: s.state_dict() for k, s in self._streams()},
            "growth": None,  # written by every version (growth's callback fills it in)
            "labeled": (p.labeled_idx, p.labeled_y), "unlabeled": p.unlabeled_idx,
            "train_time_s": self.train_time, "images_seen": self.images_seen,
            "config": self.cfg.to_dict(),
            "running_logs": (self._acc, self._acc_n),  # since the last validation
        }
        for cb in self.callbacks:
            state.update(cb.state_dict())
        return state

    def save_last(self) -> None:
        """checkpoints/last.pt: everything `--resume` needs (a collective under DDP)."""
        state = self._state()
        if self.dist.main:
            save_checkpoint(self.run / "checkpoints" / "last.pt", state)

    def _restore(self, ckpt: dict[str, Any]) -> None:
        self.method.load_state_dict(ckpt["method"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.sched.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        if self.ema is not None:
            self.ema.load_state_dict(ckpt["ema"])
        for cb in self.callbacks:
            cb.load_state_dict(ckpt)
        self.pool.labeled_idx, self.pool.labeled_y = ckpt["labeled"]
        self.pool.unlabeled_idx = ckpt["unlabeled"]
        for name, stream in self._streams():
            stream.reset(*self._pool_of(name))
            stream.load_state_dict(ckpt["streams"][name])
        self.step = ckpt["step"]
        self.train_time, self.images_seen = ckpt["train_time_s"], ckpt["images_seen"]
        self._acc, self._acc_n = ckpt["running_logs"]
        rngs = ckpt["rng"]
        set_rng_state(rngs[self.dist.rank] if self.dist.rank < len(rngs) else rngs[0])

    def _streams(self) -> Iterator[tuple[str, BatchStream]]:
        for name in ("labeled", "unlabeled"):
            stream = getattr(self, name)
            if stream is not None:
                yield name, stream

    def _pool_of(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        if name == "labeled":
            return self.pool.labeled_idx, self.pool.labeled_y
        if not self.method.uses_labeled:
            return self.pool.every_image(), None
        return self.pool.unlabeled_idx, None

    # ------------------------------------------------ what callbacks may call
    @property
    def eval_net(self) -> torch.nn.Module:
        """The network evaluated and saved: the EMA weights when on."""
        return self.ema.module if self.ema is not None else self.net

    @property
    def images_per_s(self) -> float:
        return self.images_seen / max(self.train_time, 1e-9)

    def move_to_labeled(self, positions: np.ndarray, labels: np.ndarray) -> None:
        """Unlabelled pool positions → the labelled set with `labels`; streams follow."""
        self.pool.move_to_labeled(positions, labels)
        for name, stream in self._streams():
            stream.reset(*self._pool_of(name))

    def add_logs(self, logs: dict[str, Any]) -> None:
        """One step's scalars (tensors stay on the device until the next validation)."""
        for k, v in logs.items():
            self._acc[k] = self._acc.get(k, 0.0) + (v.detach().float() if
                                                    isinstance(v, torch.Tensor) else v)
        self._acc_n += 1

    def take_logs(self) -> dict[str, float]:
        """Means of the method's logged scalars since the last call (then reset)."""
        means = {k: float(v) / max(self._acc_n, 1) for k, v in self._acc.items()}
        self._acc, self._acc_n = {}, 0
        return means

    def log(self, record: dict[str, Any]) -> None:
        """One record to metrics.jsonl (main process), then to every callback's on_log."""
        if self.dist.main:
            append_jsonl(self.run / "metrics.jsonl", record)
        for cb in self.callbacks:
            cb.on_log(self, record)

    def request_train_mode(self) -> None:
        """A callback evaluated the model: training mode returns after this step."""
        self._reset_mode = True

    def request_stop(self) -> None:
        """End training after this step, as if it had reached `steps` (summary written).
        Decide it from values every process shares (validation results are broadcast)."""
        self._finish = True

    # ------------------------------------------------------------------- loop
    def _train_mode(self) -> None:
        self.method.train()
        if self.cfg.freeze_encoder:  # a frozen encoder keeps its BatchNorm statistics too
            self.net.encoder.eval()

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._stop:  # second Ctrl-C: stop at once
            raise KeyboardInterrupt
        self._stop = True

    def fit(self) -> Path:
        self._model: torch.nn.Module = self.method
        if self.dist.enabled:
            ids = [self.device.index] if self.cuda else None
            self._model = DistributedDataParallel(self.method, device_ids=ids)
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._on_sigint) if main_thread else None
        self._train_mode()
        try:
            for cb in self.callbacks:
                cb.on_start(self)
            while self.step < self.cfg.steps and not self._finish:
                self._train_one()
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
            for cb in self.callbacks:
                cb.teardown(self)
        if self.dist.main:
            self._write_summary()
        return self.run

    def _train_one(self) -> None:
        t0 = time.perf_counter()
        self.last_loss = self.step_fn(self, self._model)
        self.train_time += time.perf_counter() - t0
        self.step += 1
        for cb in self.callbacks:
            cb.after_step(self)
        if self._reset_mode:
            self._train_mode()
            self._reset_mode = False
        if self.dist.any(self._stop, self.device):
            self.save_last()
            raise TrainingInterrupted(self.run, self.step)

    def _write_summary(self) -> None:
        """summary.json: the run's facts, then each callback's fields (keys in the order
        summary.json has always had)."""
        cfg = self.cfg
        summary: dict[str, Any] = {
            "method": cfg.method_label, "data": cfg.data, "model": cfg.model,
            "labels": len(self.split.labeled), "label_source": self.split.source,
            "seed": cfg.seed, "test_acc": None, "test_macro_f1": None, "best_val_acc": None,
            "train_time_s": self.train_time, "steps": self.step,
            "images_per_s": self.images_per_s, "time_to_target_s": None,
            "classes": list(self.bundle.classes), "final_labeled": len(self.pool.labeled_idx),
            # every labelled image the run touched: training and validation (issue 24)
            "labels_used": len(self.split.labeled) + len(self.split.val), "val_score": None,
            "stopped_early_at": None,
        }
        for cb in self.callbacks:
            cb.summary(self, summary)
        atomic_write_bytes(self.run / "summary.json", json.dumps(summary, indent=2).encode())
