"""The training engine: one method-blind loop (loop.py) and its callbacks (callbacks/)."""

from __future__ import annotations

from typing import Any

__all__ = ["Trainer", "TrainingDiverged", "TrainingInterrupted"]


def __getattr__(name: str) -> Any:
    """Imported on first use (PEP 562), so `tinyssl train --help` starts without torch."""
    if name in __all__:
        from tinyssl.train import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'tinyssl.train' has no attribute '{name}'")
