"""Pseudo-label growth, as in the project's origin: once validation accuracy reaches a
target, every K steps move up to M confident unlabelled images into the labelled set.

Growth is a training callback, not a loss, so it composes with any method that uses labels
(`--pseudo-label` with `uda`, `fixmatch`, ...); `--method pseudolabel` is growth on top of
plain supervised training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

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

    def setup(self, trainer: Trainer) -> None:
        cfg = trainer.cfg
        if not trainer.method.uses_labeled:
            raise ValueError(f"pseudo-label growth needs a method that uses labels, not "
                             f"{cfg.method}.")
        self.rule = PseudoLabelGrowth(trainer.bundle.num_classes, cfg.pl_target, cfg.pl_every,
                                      cfg.pl_max, cfg.pl_threshold, cfg.pl_balanced,
                                      calibrate=cfg.pl_calibrate)

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.last_val = record.get("val_acc", self.last_val)

    def after_step(self, trainer: Trainer) -> None:
        assert self.rule is not None
        if self.rule.due(trainer.step, self.last_val):
            self.grow(trainer)

    def grow(self, trainer: Trainer) -> None:
        """Move confident unlabelled images (and their predicted labels) to the labelled set."""
        assert self.rule is not None
        pool, dist = trainer.pool, trainer.dist
        chosen = None
        if dist.main and len(pool.unlabeled_idx):
            probs = predict_probs(trainer.eval_net, pool.images(pool.unlabeled_idx))
            val = (predict_probs(trainer.eval_net, pool.val_x).cpu().numpy()
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

    def state_dict(self) -> dict[str, Any]:
        assert self.rule is not None
        return {"growth": self.rule.state_dict()}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        assert self.rule is not None
        self.rule.load_state_dict(checkpoint["growth"])
        self.last_val = checkpoint["last_val_acc"]
