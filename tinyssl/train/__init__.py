"""The training engine: one method-blind loop (loop.py) and its callbacks (callbacks/)."""

from __future__ import annotations

from typing import Any

__all__ = ["Trainer", "TrainingDiverged", "TrainingInterrupted"]


def __getattr__(name: str) -> Any:
    """Imported on first use (PEP 562), so `tinyssl train --help` starts without torch."""
    if name == "Trainer":
        from tinyssl.train.loop import Trainer

        return Trainer
    if name in __all__:
        from tinyssl.train import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'tinyssl.train' has no attribute '{name}'")
