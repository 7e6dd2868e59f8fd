"""Issue 24: the honest label budget, early stopping, and the decisions `tinyssl fit` takes
itself — which must never read a test label."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fit_fixtures import small_fit

from tinyssl.data import load_dataset
from tinyssl.data.types import Split
from tinyssl.pipeline.fit import FitConfig
from tinyssl.pipeline.fit_decisions import (
    TEACHER_COST,
    _near_chance_warnings,
    fold_holdout,
    resolution_notes,
    smoothed_best,
    trial_split,
)

STAGES = ("baseline", "teacher", "float_init", "student")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def fits(digits_fit: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same small fit twice: on digits (the session's), and on digits with permuted test
    labels."""
    torch.set_num_threads(1)
    return digits_fit, small_fit(tmp_path_factory.mktemp("fits") / "permuted", True)


def _runs(fit_dir: Path) -> list[Path]:
    return sorted(p.parent for p in fit_dir.glob("**/config.yaml")
                  if (p.parent / "checkpoints").is_dir())


def test_labels_per_class_4_touches_exactly_4_labelled_images_per_class(
        fits: tuple[Path, Path]) -> None:
    """Every run of the fit (stages and trials, validation included) draws its labelled and
    validation images from the same 4 per class; the reports say 40."""
    fit_dir = fits[0]
    y = load_dataset("digits").train.y
    from tinyssl.config import load_config
    from tinyssl.methods import get_method

    used: set[int] = set()
    for run in _runs(fit_dir):
        if get_method(load_config(run / "config.yaml", {}).method).uses_labeled:
            split = Split.load(run / "split.npz")
            used |= set(split.labeled.tolist()) | set(split.val.tolist())
    assert np.bincount(y[sorted(used)], minlength=10).tolist() == [4] * 10
    report = json.loads((fit_dir / "fit.json").read_text())
    assert report["labels_used"] == 40
    assert all(s["labels_used"] == 40 for s in report["stages"])  # no stage validates on more
    for stage in STAGES:
        assert len(Split.load(fit_dir / stage / "split.npz").val) == 0  # all 40 train
    assert "Labelled images used, training and validation together: 40." in (
        fit_dir / "fit.md").read_text()


def test_fit_writes_its_decisions(fits: tuple[Path, Path]) -> None:
    fit_dir = fits[0]
    d = json.loads((fit_dir / "fit.json").read_text())["decisions"]
    for knob in ("method_options", "teacher_method", "teacher_model", "pretrain_steps", "steps",
                 "teacher_steps", "student_lr", "temperature"):
        assert knob in d["choices"]
    assert {"flip", "randaugment_policy"} <= set(d["choices"]["method_options"])
    assert d["fold"] == {"train": 30, "val": 10}  # 4 per class: 3 train, 1 validates
    # the teacher's length is the budget (4.5 × the student's 12 steps ÷ the teacher's
    # cost), not a fold decision: short trials' peaks did not predict it
    cost = TEACHER_COST[d["choices"]["teacher_model"]]
    assert d["choices"]["teacher_steps"] == round(4.5 * 12 / cost)
    assert not any("teacher length" in line for line in d["log"])
    decided = {t["decision"] for t in d["trials"]}
    assert {"flip", "policy", "teacher method", "teacher size", "SimCLR init", "student"
            } <= decided
    text = (fit_dir / "fit.md").read_text()
    assert "## Decisions" in text and "student lr" in text and "temperature" in text
    student = json.loads((fit_dir / "student" / "summary.json").read_text())
    assert student["val_score"] == "holdout"  # label-free: teacher agreement on held-out images


def test_decisions_never_read_test_labels(fits: tuple[Path, Path]) -> None:
    """Shuffled test labels change the reported test accuracy and nothing else: every
    decision, every trial's score and every trained weight are identical."""
    plain, permuted = fits
    a, b = (json.loads((f / "decisions.json").read_text()) for f in (plain, permuted))
    assert a == b
    runs = [r.relative_to(plain) for r in _runs(plain)]
    assert runs == [r.relative_to(permuted) for r in _runs(permuted)] and len(runs) > 10
    for run in runs:
        for name in ("last.pt", "best.pt"):
            pa, pb = plain / run / "checkpoints" / name, permuted / run / "checkpoints" / name
            assert pa.is_file() == pb.is_file()
            if pa.is_file():
                wa, wb = (torch.load(p, weights_only=False)["model"] for p in (pa, pb))
                assert all(torch.equal(wa[k], wb[k]) for k in wa), f"{run}/{name} differs"
    test = [json.loads((f / "fit.json").read_text())["stages"][-1]["test_acc"]
            for f in fits]
    assert test[0] != test[1]  # the permutation did reach the test metrics


def test_fold_holds_out_a_third_and_nothing_at_one_label_per_class() -> None:
    assert [fold_holdout(k) for k in (1, 2, 4, 10, 25)] == [0, 1, 1, 3, 8]
    bundle = load_dataset("digits")
    from tinyssl.data import make_split

    split = make_split(bundle, 10, labels_per_class=10, val_per_class=0, seed=0)
    fold = trial_split(bundle, split, seed=0)
    assert fold is not None and len(fold.labeled) == 70 and len(fold.val) == 30
    assert set(fold.labeled) | set(fold.val) == set(split.labeled)
    one = make_split(bundle, 10, labels_per_class=1, val_per_class=0, seed=0)
    assert trial_split(bundle, one, seed=0) is None
    assert smoothed_best([0.1, 0.9, 0.1, 0.5, 0.5, 0.5]) == pytest.approx(0.5)


def test_near_chance_and_resolution_messages(tmp_path: Path) -> None:
    bundle = load_dataset("digits")
    from tinyssl.data import make_split

    split = make_split(bundle, 10, labels_per_class=4, val_per_class=0, seed=0)
    [near] = _near_chance_warnings(0.12, bundle, split, "teacher")
    assert "near chance (10.0 %)" in near and "fold validation accuracy 12.0 %" in near
    assert _near_chance_warnings(0.8, bundle, split, "teacher") == []
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 20)
    np.savez(tmp_path / "big.npz", x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])
    cfg = FitConfig.load(None, {"data": f"npz:{tmp_path / 'big.npz'}", "image_size": 16,
                                "labels_per_class": 2})
    small = load_dataset(cfg.data, image_size=16)
    [note] = resolution_notes(cfg, small, None, tmp_path, print, None)  # type: ignore[arg-type]
    assert "source images are 64 px and train at 16 px" in note
    assert "try --image-size 32" in note and "4× as much" in note
    same = FitConfig.load(None, {"data": cfg.data, "image_size": 48, "labels_per_class": 2})
    assert resolution_notes(same, load_dataset(cfg.data, image_size=48), None, tmp_path,
                            print, None) == []  # type: ignore[arg-type]
