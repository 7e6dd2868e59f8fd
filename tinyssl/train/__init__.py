"""The training engine: one loop for every method (see loop.py)."""

from __future__ import annotations

from typing import Any

__all__ = ["TrainingDiverged", "TrainingInterrupted", "run_training"]


def __getattr__(name: str) -> Any:
    """Imported on first use (PEP 562), so `tinyssl train --help` starts without torch."""
    if name in __all__:
        from tinyssl.train import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'tinyssl.train' has no attribute '{name}'")
