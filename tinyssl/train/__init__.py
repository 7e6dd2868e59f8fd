"""The training engine: one loop for every method (see loop.py)."""

from tinyssl.train.loop import TrainingDiverged, TrainingInterrupted, run_training

__all__ = ["TrainingDiverged", "TrainingInterrupted", "run_training"]
