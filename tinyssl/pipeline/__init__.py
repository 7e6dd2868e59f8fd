"""The orchestrators: one run (run.py), fit, sweep, transfer, probe, predict."""

from __future__ import annotations

from typing import Any

__all__ = ["run_training"]


def __getattr__(name: str) -> Any:
    """Imported on first use (PEP 562): the CLI starts without torch."""
    if name == "run_training":
        from tinyssl.pipeline.run import run_training

        return run_training
    raise AttributeError(f"module 'tinyssl.pipeline' has no attribute '{name}'")
