"""Early stopping, and the held-out unlabelled images a label-free score is measured on.

A run with few labels has no labelled images to spare for validation (`tinyssl fit` trains
on all of them), so its schedule cannot be "until validation accuracy stops rising". What it
can do without labels: hold a few hundred unlabelled images out of training and score the
network on them with a signal that needs no label — for a distilled student, how often it
agrees with its teacher there (`Method.holdout_score`). The trainer feeds whichever score it
has (labelled validation accuracy first) to `EarlyStopping.update` at every evaluation; the
run ends when the score has not improved for `patience` evaluations, and its best
checkpoint is the one with the best score.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class EarlyStopping:
    """Stop when the score has not beaten its best by more than `min_delta` for `patience`
    consecutive evaluations. Scores that are None or NaN are ignored (no evidence either way).
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        if patience < 1:
            raise ValueError(f"early-stopping patience must be at least 1 (got {patience}).")
        self.patience, self.min_delta = patience, min_delta
        self.best, self.best_step, self.bad, self.stopped_at = -math.inf, 0, 0, None

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

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "bad": self.bad,
                "stopped_at": self.stopped_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step = state["best"], state["best_step"]
        self.bad, self.stopped_at = state["bad"], state["stopped_at"]


def hold_out(pool: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool without the held-out images, `count` held-out images): a seeded draw of its own
    stream, so the split's and the pool cap's draws are unchanged. At most a quarter of the
    pool is held out, so a small pool still trains on most of its images."""
    count = min(count, len(pool) // 4)
    if count <= 0:
        return pool, pool[:0]
    rng = np.random.default_rng([seed, 0x401D])
    out = np.zeros(len(pool), dtype=bool)
    out[rng.choice(len(pool), size=count, replace=False)] = True
    return pool[~out], pool[out]
