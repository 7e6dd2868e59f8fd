"""A small real fit on digits (every stage, trials included), built once per test session and
shared by the tests that need a fit directory (decisions, commands given FIT, report)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyssl.data import load_dataset
from tinyssl.pipeline.fit import FitConfig, save_fit_config, start_fit


def digits_npz(path: Path, permute_test: bool) -> str:
    """digits as an npz source, optionally with its test labels shuffled."""
    b = load_dataset("digits")
    y_test = np.random.default_rng(5).permutation(b.test.y) if permute_test else b.test.y
    np.savez(path, x_train=b.train.x, y_train=b.train.y, x_test=b.test.x, y_test=y_test)
    return f"npz:{path}"


def small_fit(root: Path, permute_test: bool = False) -> Path:
    """`fit` at 4 labels per class, 12 student steps, 6-step trials, no hardware stage:
    baseline, teacher, float_init and student stage runs plus the trials below them."""
    root.mkdir()
    data = digits_npz(root / "digits.npz", permute_test)
    cfg = FitConfig.load(None, {"data": data, "image_size": 16, "labels_per_class": 4,
                                "steps": 12, "trial_steps": 6, "batch_size": 16,
                                "unlabeled_ratio": 1.0, "hardware": False, "progress": False,
                                "device": "cpu"})
    fit_dir = root / "fit"
    save_fit_config(cfg, fit_dir)
    start_fit(cfg, root, resume=fit_dir, echo=lambda *_: None)
    return fit_dir
