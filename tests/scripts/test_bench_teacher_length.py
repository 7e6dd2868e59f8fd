"""The teacher-length development benchmark (scripts/bench_teacher_length.py): it scores on
the fit's unlabelled pool only (never its labels or the test split), retrains the teacher at
the asked step counts with nothing else changed, and does not retrain what is finished."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import bench_teacher_length  # noqa: E402


@pytest.fixture()
def fit_dir(tmp_path: Path) -> Path:
    """A fit directory holding a (4-step) float teacher, as `tinyssl fit` leaves it."""
    from tinyssl.config import load_config
    from tinyssl.pipeline import run_training

    torch.set_num_threads(1)
    cfg = load_config(None, {"data": "digits", "image_size": 16, "model": "tiny-float",
                             "width_mult": 0.5, "method": "fixmatch", "labels_per_class": 2,
                             "val_per_class": 0, "steps": 4, "batch_size": 16,
                             "eval_every": 2, "device": "cpu", "progress": False,
                             "log": "none", "name": "teacher"})
    fit = tmp_path / "digits-2pc-s0"
    run_training(cfg, fit).rename(fit / "teacher")
    return fit


def test_scores_on_the_pool_and_retrains_only_the_schedule(fit_dir: Path, tmp_path: Path) -> None:
    split = np.load(fit_dir / "teacher" / "split.npz")
    bundle, idx = bench_teacher_length.dev_images(fit_dir, 50)
    assert len(idx) == 50 and np.isin(idx, split["unlabeled"]).all()
    assert not np.isin(idx, split["labeled"]).any()  # labels the fit trained on: never

    runs = tmp_path / "runs"
    r = bench_teacher_length.measure(fit_dir, [2.0], runs, 50)
    assert [row["steps"] for row in r["rows"]] == [4, 8] and r["dev_images"] == 50
    assert all(0 <= row["dev_acc"] <= 1 for row in r["rows"])
    (longer,) = runs.iterdir()
    base = yaml.safe_load((fit_dir / "teacher" / "config.yaml").read_text())
    new = yaml.safe_load((longer / "config.yaml").read_text())
    changed = {k for k in base if base[k] != new[k]}
    assert changed <= {"steps", "name", "eval_every", "progress", "log"}  # the schedule only
    assert new["steps"] == 8 and new["seed"] == base["seed"]

    mtime = (longer / "summary.json").stat().st_mtime
    assert bench_teacher_length.retrain(fit_dir, 2.0, runs) == longer  # finished: reused
    assert (longer / "summary.json").stat().st_mtime == mtime and len(list(runs.iterdir())) == 1
