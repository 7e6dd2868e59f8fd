"""`run_training`: one training run with every feature its config names, the entry point of
`tinyssl train`, fit, sweep and transfer.

The train layer cannot see label selection (select sits above it), so this is where a
config's selection rule becomes the run's split and its labelling rounds a callback.
"""

from __future__ import annotations

from pathlib import Path

from tinyssl.config import TrainConfig
from tinyssl.select import config_split
from tinyssl.select.rounds import RoundsCallback
from tinyssl.train.run import run_config, train


def run_training(cfg: TrainConfig | None, runs_root: Path = Path("runs"),
                 resume: Path | None = None, extend_to: int | None = None) -> Path:
    """Train one run (or continue `resume`, using that run's own config, to `extend_to`
    steps if given) → run directory."""
    cfg = run_config(cfg, resume, extend_to)  # type: ignore[arg-type]
    rounds = [RoundsCallback()] if cfg.selection_rounds > 1 else []
    rule = config_split if cfg.selection != "random" else None
    return train(cfg, runs_root, resume, rounds, rule)
