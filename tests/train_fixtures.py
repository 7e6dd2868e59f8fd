"""A run as a `kill -9` leaves it: trained to the end, then rewound to an earlier last.pt."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tinyssl.config import load_config
from tinyssl.pipeline import run_training


def killed_run(cfg: dict[str, Any], runs_root: Path, monkeypatch: pytest.MonkeyPatch,
               step: int = 6) -> Path:
    """Train `cfg` into `runs_root`, keeping the last.pt written at `step`; then put it back
    and drop summary.json, so the run looks interrupted right after that checkpoint (with
    everything else it wrote later, e.g. metrics or events, still there)."""
    from tinyssl.train import loop

    original, kept = loop.save_checkpoint, runs_root.parent / f"{runs_root.name}-step{step}.pt"

    def keep(path: Path, state: dict) -> None:
        original(path, state)
        if path.name == "last.pt" and state["step"] == step:
            shutil.copy(path, kept)

    monkeypatch.setattr(loop, "save_checkpoint", keep)
    run = run_training(load_config(None, cfg), runs_root)
    monkeypatch.setattr(loop, "save_checkpoint", original)
    shutil.copy(kept, run / "checkpoints" / "last.pt")
    (run / "summary.json").unlink()
    return run
