"""Early stopping (train/callbacks/early_stopping.py) and the held-out unlabelled images of
a label-free validation score (train/pool.py), issue 24."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinyssl.pipeline import run_training
from tinyssl.train.callbacks.early_stopping import EarlyStopping
from tinyssl.train.pool import hold_out


def test_early_stopping_rule_and_resume_state() -> None:
    stop = EarlyStopping(patience=2)
    assert not stop.update(10, 0.5) and not stop.update(20, 0.6)
    assert not stop.update(30, 0.6) and not stop.update(40, float("nan"))
    assert stop.update(50, 0.55) and stop.stopped_at == 50 and stop.best_step == 20
    assert stop.update(60, 0.9)  # stays stopped
    again = EarlyStopping(patience=2)
    again.load_state_dict(stop.state_dict())
    assert again.stopped and again.best == 0.6
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(0)


def test_early_stopping_ends_a_run_whose_validation_stopped_improving(tmp_path: Path) -> None:
    """At a learning rate too small to move the weights validation never improves after the
    first evaluation: patience 2 at an evaluation every 2 steps stops the run at step 6 of
    200; a resume of the finished run does not train further."""
    from tinyssl.config import load_config

    cfg = load_config(None, {"data": "digits", "image_size": 16, "labels_per_class": 5,
                             "steps": 200, "eval_every": 2, "early_stop_patience": 2,
                             "lr": 1e-12, "warmup": 0, "progress": False, "device": "cpu"})
    run = run_training(cfg, tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["stopped_early_at"] == 6
    assert summary["labels_used"] == 50 + 100  # 5 training + 10 validation labels per class
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    (run / "summary.json").unlink()  # as if killed after the stop, before the summary
    assert run_training(None, tmp_path, resume=run) == run
    assert json.loads((run / "summary.json").read_text())["steps"] == 6
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3


def test_hold_out_is_seeded_disjoint_and_at_most_a_quarter() -> None:
    pool = np.arange(100, 140)
    rest, held = hold_out(pool, 512, seed=3)
    assert len(held) == 10 and not set(rest) & set(held) and len(rest) + len(held) == 40
    assert (hold_out(pool, 512, seed=3)[1] == held).all()
    assert len(hold_out(pool, 0, seed=3)[1]) == 0
