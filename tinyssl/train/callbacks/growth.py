"""Pseudo-label growth, as in the project's origin: once validation accuracy reaches a
target, every K steps move up to M confident unlabelled images into the labelled set.

Growth is a training callback, not a loss, so it composes with any method that uses labels
(`--pseudo-label` with `uda`, `fixmatch`, ...); `--method pseudolabel` is growth on top of
plain supervised training.

The confidences come from the run's own network, or (`--pl-source RUN`) from another trained
run's, e.g. a `fit` teacher: the float teacher is far more accurate than the 2-bit network
early on, which is when the origin's rule adds its images. The source is frozen; its
accuracy on the run's validation split (images it never saw, see train/setup.source_split)
is what the target gates, and its temperature is fitted there too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tinyssl.runs import append_jsonl
from tinyssl.train.calibration import calibrate_probs
from tinyssl.train.callbacks.base import Callback
from tinyssl.train.evaluate import predict_probs
from tinyssl.train.pseudo_select import added_and_wrong, select_confident

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


@dataclass
class PseudoLabelGrowth:
    """Selection rule. `target` val accuracy switches growth on (and it stays on)."""

    num_classes: int
    target: float = 0.7
    every: int = 100
    max_add: int = 100
    threshold: float = 0.9
    balanced: bool = False
    active: bool = False
    calibrate: bool = False  # temperature-scale confidences on the validation split first
    _temperature: float = field(default=1.0, init=False, repr=False)  # the last fitted T
    _uncalibrated: tuple = field(default=(), init=False, repr=False)  # raw picks, for event

    def due(self, step: int, val_acc: float | None) -> bool:
        """Called after `step` steps; turns growth on the first time val_acc hits target."""
        if not self.active and val_acc is not None and val_acc >= self.target:
            self.active = True
        return self.active and step % self.every == 0

    def select(self, probs: np.ndarray, val_probs: np.ndarray | None = None,
               val_y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Positions (into the scored pool) and predicted labels of the images to move
        (`select_confident`). With `calibrate`, confidences are first temperature-scaled
        on the validation probabilities; the uncalibrated picks are kept for `event`."""
        rule = (self.threshold, self.max_add, self.num_classes, self.balanced)
        if not self.calibrate:
            return select_confident(probs, *rule)
        self._uncalibrated = select_confident(probs, *rule)
        calibrated, self._temperature = calibrate_probs(probs, val_probs, val_y)
        return select_confident(calibrated, *rule)

    def event(self, step: int, labels: np.ndarray, true: np.ndarray,
              pool_true: np.ndarray | None = None) -> dict:
        """One pseudolabels.jsonl record: added and wrong per class (true = -1: unknown).
        Calibrated: also T and what the raw confidences would have added (`pool_true`: the
        true labels of the whole scored pool)."""
        record = {"step": step, **added_and_wrong(labels, true, self.num_classes)}
        if self.calibrate and pool_true is not None:
            positions, raw = self._uncalibrated
            record.update(temperature=self._temperature, uncalibrated=added_and_wrong(
                raw, pool_true[positions], self.num_classes))
        return record

    def state_dict(self) -> dict[str, bool]:
        return {"active": self.active}

    def load_state_dict(self, state: dict[str, bool]) -> None:
        self.active = bool(state["active"])


class Growth(Callback):
    """Runs PseudoLabelGrowth on the trainer's pool (records in pseudolabels.jsonl)."""

    order = 20

    def __init__(self) -> None:
        self.rule: PseudoLabelGrowth | None = None
        self.last_val: float | None = None
        self.source: torch.nn.Module | None = None  # --pl-source's frozen network
        self.source_val_acc: float | None = None

    def setup(self, trainer: Trainer) -> None:
        cfg = trainer.cfg
        if not trainer.method.uses_labeled:
            raise ValueError(f"pseudo-label growth needs a method that uses labels, not "
                             f"{cfg.method}.")
        self.rule = PseudoLabelGrowth(trainer.bundle.num_classes, cfg.pl_target, cfg.pl_every,
                                      cfg.pl_max, cfg.pl_threshold, cfg.pl_balanced,
                                      calibrate=cfg.pl_calibrate)
        if cfg.pl_source is not None:
            self.source = self._load_source(trainer, Path(cfg.pl_source))
            val = predict_probs(self.source, trainer.pool.val_x).argmax(1)
            self.source_val_acc = float((val == trainer.pool.val_y).float().mean())

    @staticmethod
    def _load_source(trainer: Trainer, run: Path) -> torch.nn.Module:
        from tinyssl.models import load_net

        net, ckpt = load_net(run)
        spec = ckpt["model_spec"]
        if list(ckpt["classes"]) != list(trainer.bundle.classes):
            raise ValueError(f"pl_source {run} was trained on the classes "
                             f"{', '.join(ckpt['classes'])}, not this data's.")
        for key in ("image_size", "in_channels"):
            if spec[key] != getattr(trainer.spec, key):
                raise ValueError(f"pl_source {run} takes {key} {spec[key]}; this run's is "
                                 f"{getattr(trainer.spec, key)}.")
        return net.to(trainer.device).requires_grad_(False)

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.last_val = record.get("val_acc", self.last_val)

    def after_step(self, trainer: Trainer) -> None:
        assert self.rule is not None
        gate = self.source_val_acc if self.source is not None else self.last_val
        if self.rule.due(trainer.step, gate):
            self.grow(trainer)

    def grow(self, trainer: Trainer) -> None:
        """Move confident unlabelled images (and their predicted labels) to the labelled set."""
        assert self.rule is not None
        pool, dist = trainer.pool, trainer.dist
        chosen = None
        scorer = self.source if self.source is not None else trainer.eval_net
        if dist.main and len(pool.unlabeled_idx):
            probs = predict_probs(scorer, pool.images(pool.unlabeled_idx))
            val = (predict_probs(scorer, pool.val_x).cpu().numpy()
                   if self.rule.calibrate else None)  # temperature scaling's fit
            chosen = self.rule.select(probs.cpu().numpy(), val, pool.val_y.cpu().numpy())
        chosen = dist.broadcast(chosen)
        if chosen is None or not (len(chosen[0]) or self.rule.calibrate):
            return
        positions, labels = chosen
        moved = pool.unlabeled_idx[positions]
        if dist.main:
            append_jsonl(trainer.run / "pseudolabels.jsonl", self.rule.event(
                trainer.step, labels, pool.y[moved], pool.y[pool.unlabeled_idx]))
        if len(positions):
            trainer.move_to_labeled(positions, labels)

    def summary(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        """With a source: its labels count too (its validation images; its labelled ones
        are this run's), and its gate accuracy is reported."""
        if self.source is None:
            return
        from tinyssl.data.types import Split

        source = Split.load(Path(trainer.cfg.pl_source) / "split.npz")  # type: ignore[arg-type]
        summary.update(labels_used=summary["labels_used"] + len(source.val),
                       pl_source=trainer.cfg.pl_source, pl_source_val_acc=self.source_val_acc)

    def state_dict(self) -> dict[str, Any]:
        assert self.rule is not None
        return {"growth": self.rule.state_dict()}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        assert self.rule is not None
        self.rule.load_state_dict(checkpoint["growth"])
        self.last_val = checkpoint["last_val_acc"]
