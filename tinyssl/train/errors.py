"""How training ends early: diverged (exit 1) or interrupted with a checkpoint (exit 130)."""

from __future__ import annotations

from pathlib import Path


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C: a checkpoint was saved first, so `--resume run` continues exactly."""

    def __init__(self, run: Path, step: int, then: str = "", how: str | None = None) -> None:
        """`how` replaces the `tinyssl train --resume RUN` hint where another command is
        the one to rerun (select's encoder resumes when `select` runs again)."""
        how = how or f"Continue with `tinyssl train --resume {run}`."
        super().__init__(f"interrupted at step {step}; checkpoint saved. {how}{then}")
        self.run, self.step = run, step
