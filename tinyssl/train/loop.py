"""The one training loop every method runs through.

The trainer owns everything but the loss: data on the device, optimiser and cosine schedule
with warm-up, EMA weights for evaluation, AMP and channels-last on CUDA, DDP under torchrun,
validation and best/last checkpoints, exact resume, Ctrl-C and NaN handling, pseudo-label
growth, and the run directory. A method only turns batches into a loss.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from tinyssl.config import TrainConfig, load_config
from tinyssl.data.labels_file import write_labels_file
from tinyssl.data.stream import BatchStream, images_to_device
from tinyssl.methods import Batch, Method, get_method
from tinyssl.methods.pseudolabel import PseudoLabelGrowth
from tinyssl.models.fast_quant import train_fast
from tinyssl.runs import (
    ModelSpec,
    append_jsonl,
    atomic_write_bytes,
    environment,
    find_checkpoint,
    load_checkpoint,
    model_spec_dict,
    new_run_dir,
    save_checkpoint,
)
from tinyssl.select.rounds import ROUNDS_LABELS_FILE, LabellingRounds
from tinyssl.train.device import pick_device
from tinyssl.train.distributed import Dist
from tinyssl.train.ema import EMA
from tinyssl.train.evaluate import (
    accuracy,
    classification_metrics,
    predict_probs,
    recalibrate_bn,
)
from tinyssl.train.progress import TrainProgress
from tinyssl.train.setup import (
    cap_pool,
    load_data,
    load_init,
    rng_state,
    run_slug,
    seed_everything,
    set_rng_state,
)


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C: a checkpoint was saved first, so `--resume run` continues exactly."""

    def __init__(self, run: Path, step: int) -> None:
        super().__init__(f"interrupted at step {step}; checkpoint saved. Continue with "
                         f"`tinyssl train --resume {run}`.")
        self.run, self.step = run, step


class Trainer:
    """Holds one run's state; `fit()` trains, checkpoints and writes the summary."""

    def __init__(self, cfg: TrainConfig, device: torch.device, dist: Dist, runs_root: Path,
                 resume: Path | None) -> None:
        self.cfg, self.device, self.dist = cfg, device, dist
        seed_everything(cfg.seed)  # identical model initialisation on every rank
        self.bundle, self.split = load_data(cfg, resume)
        self._place_data()

        h, w, c = self.bundle.image_shape
        # max(1, …): a pretext run on images without classes still gets a (unused) head
        self.spec = ModelSpec(cfg.model, c, h, max(1, self.bundle.num_classes), cfg.width_mult)
        self.net = self.spec.build().to(device)
        if cfg.init:
            load_init(self.net, self.spec, Path(cfg.init), self._bn_images(512))
        if cfg.freeze_encoder:
            self.net.encoder.requires_grad_(False)
        train_fast(self.net, cfg.fast_quant)  # same numbers as Brevitas, less Python
        # option names and types were checked with the config (TrainConfig.validate)
        self.method: Method = get_method(cfg.method)(self.net, self.bundle.num_classes,
                                                     **cfg.method_options)
        self.method.bind_pool(len(self.pool_y))
        self.cuda = device.type == "cuda"
        self.method.to(device)
        if self.cuda and cfg.channels_last:
            self.method.to(memory_format=torch.channels_last)
        self.ema = EMA(self.net, cfg.ema) if cfg.ema > 0 else None
        self._build_optimizer()
        self._build_streams()
        self.growth = self._build_growth()
        self.rounds = self._build_rounds()
        # Only now, with the model, method options and schedule checked, does the run
        # directory exist: a refused run leaves nothing behind.
        self.run = self._open_run_dir(runs_root, resume)

        self.step, self.best_val, self.last_val = 0, -1.0, None
        self.train_time, self.images_seen, self.time_to_target = 0.0, 0, None
        self._stop = False
        self._acc: dict[str, Any] = {}
        self._acc_n = 0
        torch.manual_seed(cfg.seed * 7919 + dist.rank)  # augmentation differs per rank
        if resume is not None and (self.run / "checkpoints" / "last.pt").is_file():
            self._restore(load_checkpoint(self.run / "checkpoints" / "last.pt"))
            if self.dist.main:
                print(f"resuming {self.run} from step {self.step} of {cfg.steps}",
                      file=sys.stderr)
        self._saved_at = time.monotonic()

    # ----------------------------------------------------------------- set-up
    def _place_data(self) -> None:
        """All images on the device once: training pool (train + source unlabelled), val, test."""
        b, s = self.bundle, self.split
        parts, ys = [b.train.x], [b.train.y]
        if b.unlabeled is not None and len(b.unlabeled):
            parts.append(b.unlabeled.x)
            ys.append(np.full(len(b.unlabeled), -1, dtype=np.int64))
        self.pool_x = images_to_device(np.concatenate(parts) if len(parts) > 1 else parts[0],
                                       self.device)
        self.pool_y = np.concatenate(ys).astype(np.int64)  # true labels, -1 unknown
        self.val_x = self.pool_x[torch.as_tensor(s.val, device=self.device)]
        self.val_y = torch.as_tensor(b.train.y[s.val], device=self.device)
        self.test_x = images_to_device(b.test.x, self.device)
        self.test_y = b.test.y.astype(np.int64)
        self.labeled_idx = s.labeled.astype(np.int64)
        self.labeled_y = b.train.y[s.labeled].astype(np.int64)
        extra = np.arange(len(b.train), len(self.pool_y), dtype=np.int64)
        self.unlabeled_idx = cap_pool(np.concatenate([s.unlabeled.astype(np.int64), extra]),
                                      self.cfg.unlabeled, self.cfg.seed)

    def _open_run_dir(self, runs_root: Path, resume: Path | None) -> Path:
        run = resume
        fresh = run is None or not (run / "split.npz").is_file()  # `fit` names its stage dirs
        if self.dist.main and fresh:
            run = run or new_run_dir(runs_root, self.cfg.name or run_slug(self.cfg))
            self.cfg.save(run / "config.yaml")
            self.split.save(run / "split.npz")
            (run / "env.json").write_text(json.dumps(environment(), indent=2))
        return Path(self.dist.broadcast(str(run)))

    def _build_optimizer(self) -> None:
        cfg = self.cfg
        params = [p for p in self.method.parameters() if p.requires_grad]
        if cfg.optimizer == "sgd":
            self.opt: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                weight_decay=cfg.weight_decay)
        else:
            cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
            self.opt = cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        warm = min(cfg.warmup_steps, cfg.steps - 1)
        decay = cfg.steps - warm

        def factor(step: int) -> float:
            """Linear warm-up, then cosine to 0 at cfg.steps: a function of the step alone,
            so a finished run extended to more steps follows the longer schedule."""
            if step < warm:
                return (step + 1) / (warm + 1)
            return 0.5 * (1.0 + math.cos(math.pi * min(step - warm, decay) / decay))

        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, factor)
        amp = self.cfg.amp if self.cuda else "off"
        if amp == "auto":
            amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=amp == "fp16")

    def _build_streams(self) -> None:
        cfg, m, d = self.cfg, self.method, self.dist
        args = {"seed": cfg.seed, "device": self.device, "rank": d.rank, "world": d.world}
        self.labeled = (BatchStream(self.labeled_idx, self.labeled_y, cfg.batch_size, **args)
                        if m.uses_labeled else None)
        self.unlabeled = None
        if not m.uses_labeled:  # pretext tasks see every training image (up to --unlabeled)
            self.unlabeled = BatchStream(self._pool_of("unlabeled")[0], None, cfg.batch_size,
                                         **{**args, "seed": cfg.seed + 1})
        elif m.uses_unlabeled:
            if len(self.unlabeled_idx) == 0:
                raise ValueError(f"method {cfg.method} learns from unlabelled images, but no "
                                 "training image is left unlabelled: give --labels or "
                                 "--labels-per-class (or a larger --unlabeled).")
            size = max(1, round(cfg.batch_size * cfg.unlabeled_ratio))
            self.unlabeled = BatchStream(self.unlabeled_idx, None, size,
                                         **{**args, "seed": cfg.seed + 1})

    def _build_growth(self) -> PseudoLabelGrowth | None:
        cfg = self.cfg
        if not (cfg.pseudo_label or cfg.method == "pseudolabel"):
            return None
        if not self.method.uses_labeled:
            raise ValueError(f"pseudo-label growth needs a method that uses labels, not "
                             f"{cfg.method}.")
        return PseudoLabelGrowth(self.bundle.num_classes, cfg.pl_target, cfg.pl_every,
                                 cfg.pl_max, cfg.pl_threshold, cfg.pl_balanced)

    def _build_rounds(self) -> LabellingRounds | None:
        cfg = self.cfg
        if cfg.selection_rounds == 1:
            return None
        from tinyssl.select import budget_of

        budget = budget_of(cfg.labels, cfg.labels_per_class, self.bundle.num_classes)
        return LabellingRounds(budget, cfg.selection_rounds, cfg.steps, cfg.seed)

    # ------------------------------------------------------------- checkpoints
    def _state(self) -> dict[str, Any]:
        rngs = self.dist.gather(rng_state())  # collective: every rank calls it
        return {
            "model": self.eval_net.state_dict(), "model_spec": model_spec_dict(self.spec),
            "classes": list(self.bundle.classes), "step": self.step,
            "method": self.method.state_dict(), "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(), "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None, "rng": rngs,
            "streams": {k: s.state_dict() for k, s in self._streams()},
            "growth": self.growth.state_dict() if self.growth else None,
            "labeled": (self.labeled_idx, self.labeled_y), "unlabeled": self.unlabeled_idx,
            "best_val_acc": self.best_val, "last_val_acc": self.last_val,
            "train_time_s": self.train_time, "images_seen": self.images_seen,
            "time_to_target_s": self.time_to_target, "config": self.cfg.to_dict(),
            "running_logs": (self._acc, self._acc_n),  # since the last validation
        }

    def _save_last(self) -> None:
        state = self._state()
        if self.dist.main:
            save_checkpoint(self.run / "checkpoints" / "last.pt", state)
        self._saved_at = time.monotonic()

    def _restore(self, ckpt: dict[str, Any]) -> None:
        self.method.load_state_dict(ckpt["method"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.sched.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        if self.ema is not None:
            self.ema.load_state_dict(ckpt["ema"])
        if self.growth is not None:
            self.growth.load_state_dict(ckpt["growth"])
        self.labeled_idx, self.labeled_y = ckpt["labeled"]
        self.unlabeled_idx = ckpt["unlabeled"]
        for name, stream in self._streams():
            stream.reset(*self._pool_of(name))
            stream.load_state_dict(ckpt["streams"][name])
        self.step, self.best_val, self.last_val = ckpt["step"], ckpt["best_val_acc"], \
            ckpt["last_val_acc"]
        self.train_time, self.images_seen = ckpt["train_time_s"], ckpt["images_seen"]
        self.time_to_target = ckpt["time_to_target_s"]
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
            return self.labeled_idx, self.labeled_y
        if not self.method.uses_labeled:  # every training image, capped by --unlabeled
            return cap_pool(np.arange(len(self.pool_y)), self.cfg.unlabeled, self.cfg.seed), None
        return self.unlabeled_idx, None

    @property
    def eval_net(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.net

    # ------------------------------------------------------------------- loop
    def _batch(self, stream: BatchStream | None) -> Batch | None:
        if stream is None:
            return None
        drawn = stream.next()
        x = self.pool_x[drawn.index]
        if self.cuda and self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return Batch(x, drawn.y, drawn.index)

    def _train_mode(self) -> None:
        self.method.train()
        if self.cfg.freeze_encoder:  # a frozen encoder keeps its BatchNorm statistics too
            self.net.encoder.eval()

    def _one_step(self, model: torch.nn.Module) -> float:
        labeled, unlabeled = self._batch(self.labeled), self._batch(self.unlabeled)
        autocast = (torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype
                    else contextlib.nullcontext())
        with autocast:
            out = model(labeled, unlabeled, self.step / self.cfg.steps)
        loss = out.loss.float()
        value = loss.item()  # one sync per step buys the NaN guard below
        if self.dist.any(not math.isfinite(value), self.device):
            raise TrainingDiverged(
                f"the loss became {value} at step {self.step + 1}; stopped. Try a lower --lr "
                f"or --amp off. The last good checkpoint is kept in {self.run / 'checkpoints'}.")
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        self.method.after_optimizer_step(self.step / self.cfg.steps)
        self.sched.step()
        if self.ema is not None:
            self.ema.update(self.net, self.step)
        n = sum(len(b.x) for b in (labeled, unlabeled) if b is not None)
        self.images_seen += n * self.dist.world
        logs = {"loss": loss.detach(), **out.logs}
        for k, v in logs.items():
            self._acc[k] = self._acc.get(k, 0.0) + (v.detach().float() if
                                                    isinstance(v, torch.Tensor) else v)
        self._acc_n += 1
        return value

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._stop:  # second Ctrl-C: stop at once
            raise KeyboardInterrupt
        self._stop = True

    def fit(self) -> Path:
        cfg = self.cfg
        model: torch.nn.Module = self.method
        if self.dist.enabled:
            ids = [self.device.index] if self.cuda else None
            model = DistributedDataParallel(self.method, device_ids=ids)
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._on_sigint) if main_thread else None
        self._train_mode()
        try:
            with TrainProgress(cfg.steps, self.step, cfg.progress and self.dist.main,
                               cfg.log_every_s) as bar:
                while self.step < cfg.steps:
                    t0 = time.perf_counter()
                    loss = self._one_step(model)
                    self.train_time += time.perf_counter() - t0
                    self.step += 1
                    bar.update(self.step, loss, self.opt.param_groups[0]["lr"],
                               self.images_seen / max(self.train_time, 1e-9), self.last_val)
                    self._after_step()
                    if self.dist.any(self._stop, self.device):
                        self._save_last()
                        raise TrainingInterrupted(self.run, self.step)
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
        if self.dist.main:
            self._write_summary()
        return self.run

    def _after_step(self) -> None:
        """Validation, pseudo-label growth and checkpoints, at their intervals: last.pt at
        every validation and at least every `checkpoint_every_s` seconds, so a `kill -9`
        loses at most that much training."""
        due = self.step % self.cfg.eval_every == 0 or self.step == self.cfg.steps
        if due:
            self._validate()
        if self.growth is not None and self.growth.due(self.step, self.last_val):
            self._grow()
        if self.rounds is not None and (k := self.rounds.due(self.step)) is not None:
            self._label_round(k)
        overdue = time.monotonic() - self._saved_at >= self.cfg.checkpoint_every_s
        if due or self.dist.any(overdue, self.device):
            self._save_last()
        if due:
            self._train_mode()

    def _validate(self) -> None:
        val = None
        if self.method.uses_labeled and self.dist.main:
            if self.cfg.bn_recalibrate and not self.cfg.freeze_encoder:  # frozen: BN too
                recalibrate_bn(self.eval_net, self._bn_images())
            val = accuracy(self.eval_net, self.val_x, self.val_y)
        val = self.dist.broadcast(val)
        record: dict[str, Any] = {"step": self.step}
        record.update({k: float(v) / max(self._acc_n, 1) for k, v in self._acc.items()})
        self._acc, self._acc_n = {}, 0
        record.update(lr=self.opt.param_groups[0]["lr"], val_acc=val,
                      images_per_s=self.images_seen / max(self.train_time, 1e-9),
                      labeled=len(self.labeled_idx), train_time_s=self.train_time)
        self.last_val = val
        if val is not None and self.cfg.target_acc is not None and self.time_to_target is None \
                and val >= self.cfg.target_acc:
            self.time_to_target = self.train_time
        if self.dist.main:
            append_jsonl(self.run / "metrics.jsonl", record)
            if val is not None and val > self.best_val:
                self.best_val = val
                save_checkpoint(self.run / "checkpoints" / "best.pt", {
                    "model": self.eval_net.state_dict(),
                    "model_spec": model_spec_dict(self.spec),
                    "classes": list(self.bundle.classes), "step": self.step, "val_acc": val})
        self.best_val = self.dist.broadcast(self.best_val)

    def _bn_images(self, count: int = 1024) -> torch.Tensor:
        """Evenly spaced training images (labelled and unlabelled, never validation)."""
        train = np.sort(np.concatenate([self.labeled_idx, self.unlabeled_idx]))
        pick = train[np.linspace(0, len(train) - 1, min(count, len(train))).astype(np.int64)]
        return self.pool_x[torch.as_tensor(pick, device=self.device)]

    def _grow(self) -> None:
        """Move confident unlabelled images (and their predicted labels) to the labelled set."""
        assert self.growth is not None and self.labeled is not None
        chosen = None
        if self.dist.main and len(self.unlabeled_idx):
            pos = torch.as_tensor(self.unlabeled_idx, device=self.device)
            probs = predict_probs(self.eval_net, self.pool_x[pos]).cpu().numpy()
            chosen = self.growth.select(probs)
        chosen = self.dist.broadcast(chosen)
        if chosen is None or not len(chosen[0]):
            return
        positions, labels = chosen
        moved = self.unlabeled_idx[positions]
        if self.dist.main:
            append_jsonl(self.run / "pseudolabels.jsonl",
                         self.growth.event(self.step, labels, self.pool_y[moved]))
        self._move_to_labeled(positions, labels)

    def _label_round(self, k: int) -> None:
        """The oracle labels round k's picks (their true labels join the labelled set)."""
        assert self.rounds is not None
        positions = None
        # the oracle knows the labels of training images only, not of the source's own
        # unlabelled ones
        known = np.flatnonzero(self.pool_y[self.unlabeled_idx] >= 0)
        if self.dist.main and len(known):
            positions = known[self.rounds.pick(self.eval_net, self.pool_x,
                                               self.unlabeled_idx[known], k)]
        positions = self.dist.broadcast(positions)
        if positions is None:
            return
        moved = self.unlabeled_idx[positions]
        labels = self.pool_y[moved]
        if self.dist.main:
            append_jsonl(self.run / "rounds.jsonl",
                         self.rounds.event(self.step, k, labels, self.bundle.num_classes))
        self._move_to_labeled(positions, labels)
        if self.dist.main:  # the whole labelled set so far, for the runs that build on this one
            write_labels_file(self.run / ROUNDS_LABELS_FILE, self.bundle, self.labeled_idx,
                              self.labeled_y)

    def _move_to_labeled(self, positions: np.ndarray, labels: np.ndarray) -> None:
        """Unlabelled pool positions → the labelled set with `labels`; streams follow."""
        moved = self.unlabeled_idx[positions]
        self.labeled_idx = np.concatenate([self.labeled_idx, moved])
        self.labeled_y = np.concatenate([self.labeled_y, labels.astype(np.int64)])
        self.unlabeled_idx = np.delete(self.unlabeled_idx, positions)
        for name, stream in self._streams():
            stream.reset(*self._pool_of(name))

    def _write_summary(self) -> None:
        """Test metrics of the best checkpoint (by validation accuracy), else the last."""
        cfg = self.cfg
        summary: dict[str, Any] = {
            "method": cfg.method_label, "data": cfg.data, "model": cfg.model,
            # labelling rounds: the whole budget (the oracle's labels), not just round one
            "labels": sum(self.rounds.sizes) if self.rounds else len(self.split.labeled),
            "label_source": self.split.source + (
                f"×{len(self.rounds.sizes)}" if self.rounds else ""),
            "seed": cfg.seed, "test_acc": None,
            "test_macro_f1": None, "best_val_acc": self.best_val if self.best_val >= 0 else None,
            "train_time_s": self.train_time, "steps": self.step,
            "images_per_s": self.images_seen / max(self.train_time, 1e-9),
            "time_to_target_s": self.time_to_target, "classes": list(self.bundle.classes),
            "final_labeled": len(self.labeled_idx),
        }
        if self.method.uses_labeled and len(self.test_y):
            net = self.spec.build().to(self.device)
            net.load_state_dict(load_checkpoint(find_checkpoint(self.run))["model"])
            pred = predict_probs(net, self.test_x).argmax(1).cpu().numpy()
            m = classification_metrics(self.test_y, pred, list(self.bundle.classes))
            summary.update(test_acc=m["accuracy"], test_macro_f1=m["macro_f1"],
                           confusion_matrix=m["confusion_matrix"])
        if self.method.uses_labeled:
            summary.update(self._verdict(summary["test_acc"], summary["best_val_acc"]))
        atomic_write_bytes(self.run / "summary.json", json.dumps(summary, indent=2).encode())


    def _verdict(self, test_acc: float | None, val_acc: float | None) -> dict[str, Any]:
        """Chance level and one-sentence warnings when the result is poor (test accuracy
        when there is a test set, else validation)."""
        from tinyssl.train.verdict import chance_accuracy, result_warnings

        c = self.bundle.num_classes
        if test_acc is not None:
            chance = chance_accuracy(self.test_y, c)
            return {"chance_acc": chance, "warnings": result_warnings(test_acc, chance)}
        chance = chance_accuracy(self.val_y.cpu().numpy(), c)
        return {"chance_acc": chance, "warnings": result_warnings(val_acc, chance, "validation")}


def _extend(run: Path, cfg: TrainConfig, steps: int) -> None:
    """A run continued to more steps: its config.yaml records the new length."""
    last = run / "checkpoints" / "last.pt"
    done = load_checkpoint(last)["step"] if last.is_file() else 0
    if steps < max(done, 1):
        raise ValueError(f"{run} has already trained {done} steps; --steps {steps} cannot "
                         "shorten it.")
    cfg.steps = steps
    cfg.save(run / "config.yaml")


def run_training(cfg: TrainConfig, runs_root: Path = Path("runs"),
                 resume: Path | None = None, extend_to: int | None = None) -> Path:
    """Train one run (or continue `resume`, using that run's own config, to `extend_to`
    steps if given) → run directory."""
    if resume is not None:
        resume = Path(resume)
        if not (resume / "config.yaml").is_file():
            raise ValueError(f"{resume} is not a run directory (no config.yaml).")
        cfg = load_config(resume / "config.yaml", {})
        if extend_to is not None:
            _extend(resume, cfg, extend_to)
    cfg.validate()
    device = pick_device(cfg.device)
    dist = Dist.from_env(device.type)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    try:
        return Trainer(cfg, device, dist, Path(runs_root), resume).fit()
    finally:
        dist.close()
