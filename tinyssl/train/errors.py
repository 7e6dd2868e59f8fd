"""How training ends early: diverged (exit 1) or interrupted with a checkpoint (exit 130)."""

from __future__ import annotations

from pathlib import Path


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C: a checkpoint was saved first, so `--resume run` continues exactly."""

    def __init__(self, run: Path, step: int, then: str = "") -> None:
        super().__init__(f"interrupted at step {step}; checkpoint saved. Continue with "
                         f"`tinyssl train --resume {run}`.{then}")
        self.run, self.step = run, step
