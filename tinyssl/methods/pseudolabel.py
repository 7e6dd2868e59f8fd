"""Pseudo-label growth, as in the project's origin: once validation accuracy reaches a
target, every K steps move up to M confident unlabelled images into the labelled set.

Growth is a component of the trainer, not a loss, so it composes with any method that uses
labels (`--pseudo-label` with `uda`, `fixmatch`, ...); `--method pseudolabel` is growth on top
of plain supervised training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyssl.methods.supervised import Supervised
from tinyssl.train.calibration import calibrate_probs
from tinyssl.train.pseudo_select import added_and_wrong, select_confident


class PseudoLabel(Supervised):
    """Supervised loss; the trainer grows the labelled set (see PseudoLabelGrowth)."""

    name = "pseudolabel"


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
