"""Early stopping: end a run when its validation score has stopped improving.

A run with few labels has no labelled images to spare for validation (`tinyssl fit` trains
on all of them), so its schedule cannot be "until validation accuracy stops rising". What it
can do without labels: hold a few hundred unlabelled images out of training
(`holdout_unlabeled`, train/pool.py) and score the network there with a signal that needs no
label — for a distilled student, how often it agrees with its teacher (validation.py). This
callback reads whichever score validation logged (labelled accuracy first) and asks the
trainer to stop once it has not improved for `patience` evaluations; best.pt is then the
checkpoint with the best score.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tinyssl.train.callbacks.base import Callback

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


class EarlyStopping(Callback):
    """Stop when the score has not beaten its best by more than `min_delta` for `patience`
    consecutive evaluations. Scores that are None or NaN are ignored (no evidence either way).
    """

    order = 15  # fed by validation's record (10), before growth, rounds and last.pt

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        if patience < 1:
            raise ValueError(f"early-stopping patience must be at least 1 (got {patience}).")
        self.patience, self.min_delta = patience, min_delta
        self.best, self.best_step, self.bad = -math.inf, 0, 0
        self.stopped_at: int | None = None

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None

    def update(self, step: int, score: float | None) -> bool:
        """Record the score at `step`; True once the run should stop (and from then on)."""
        if self.stopped or score is None or math.isnan(score):
            return self.stopped
        if score > self.best + self.min_delta:
            self.best, self.best_step, self.bad = score, step, 0
        else:
            self.bad += 1
            if self.bad >= self.patience:
                self.stopped_at = step
        return self.stopped

    def on_start(self, trainer: Trainer) -> None:
        if self.stopped:  # resumed after it had stopped (the summary was not written yet)
            trainer.request_stop()

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        # validation scores are broadcast, so every process decides alike
        if "val_acc" in record and self.update(record["step"], record["val_acc"]):
            trainer.request_stop()

    def summary(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        summary.update(stopped_early_at=self.stopped_at)

    def state_dict(self) -> dict[str, Any]:
        return {"early_stopping": {"best": self.best, "best_step": self.best_step,
                                   "bad": self.bad, "stopped_at": self.stopped_at}}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        if state := checkpoint.get("early_stopping"):  # absent: saved without early stopping
            self.best, self.best_step = state["best"], state["best_step"]
            self.bad, self.stopped_at = state["bad"], state["stopped_at"]
