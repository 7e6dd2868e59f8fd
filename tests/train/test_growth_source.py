"""Pseudo-label growth scored by another run (`--pl-source`, e.g. a fit teacher): the run
takes the source's labelled images, validates on images the source never saw, counts them as
labels used, gates growth on the source's validation accuracy, and adds the same number per
class from the calibrated top of each class."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tinyssl.cli import main
from tinyssl.data.types import Split

FAST = ["--data", "digits", "--image-size", "16", "--width-mult", "0.5", "--device", "cpu",
        "--no-progress", "--batch-size", "16", "--eval-every", "4", "--log", "none"]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A float run standing in for a fit's FIT/teacher (the same kind of run directory)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("teacher")
    res = CliRunner().invoke(main, ["train", *FAST, "--model", "tiny-float", "--steps", "8",
                                    "--labels-per-class", "5", "--val-per-class", "2",
                                    "--runs", str(root), "--name", "teacher"])
    assert res.exit_code == 0, res.output
    (run,) = root.iterdir()
    return run


def _student(teacher: Path, root: Path, *extra: str) -> tuple[Path, CliRunner]:
    res = CliRunner().invoke(main, [
        "train", *FAST, "--model", "tiny-w2a2", "--method", "pseudolabel", "--steps", "8",
        "--pl-source", str(teacher), "--pl-every", "4", "--pl-max", "30", "--pl-threshold",
        "0.15", "--val-per-class", "3", "--runs", str(root), *extra])
    assert res.exit_code == 0, res.output
    (run,) = [p for p in root.iterdir() if p.is_dir()]
    return run, res


def test_source_growth_is_balanced_calibrated_and_counts_its_labels(teacher: Path,
                                                                    tmp_path: Path) -> None:
    run, _ = _student(teacher, tmp_path, "--pl-target", "0", "--pl-calibrate",
                      "--pl-balanced")
    assert run.name.startswith("pseudolabel-bal-cal-src-")  # reports tell it apart
    mine, source = Split.load(run / "split.npz"), Split.load(teacher / "split.npz")
    np.testing.assert_array_equal(mine.labeled, source.labeled)  # the teacher's labels
    assert not np.intersect1d(mine.val, np.concatenate([source.labeled, source.val])).size
    summary = json.loads((run / "summary.json").read_text())
    assert summary["labels_used"] == 50 + 30 + 20  # its labels, fresh validation, source's
    assert summary["pl_source"] == str(teacher) and 0 <= summary["pl_source_val_acc"] <= 1
    events = [json.loads(x) for x in (run / "pseudolabels.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events] == [4, 8]
    for e in events:  # the same count per class, with and without calibration
        assert len(set(e["added"])) == 1 and len(set(e["uncalibrated"]["added"])) == 1
        assert e["temperature"] > 0
        assert all(0 <= w <= a for w, a in zip(e["wrong"], e["added"], strict=True))
    assert sum(sum(e["added"]) for e in events) > 0


def test_growth_waits_for_the_sources_accuracy_and_refuses_a_budget(teacher: Path,
                                                                    tmp_path: Path) -> None:
    run, _ = _student(teacher, tmp_path / "gate", "--pl-target", "1.0")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["pl_source_val_acc"] < 1.0  # the source never reaches the target...
    assert not (run / "pseudolabels.jsonl").exists()  # ...so nothing is added
    for extra, said in ((["--labels-per-class", "5"], "source run's"),
                        (["--val-per-class", "0"], "val_per_class")):
        res = CliRunner().invoke(main, ["train", *FAST, "--method", "pseudolabel",
                                        "--pl-source", str(teacher), *extra,
                                        "--runs", str(tmp_path / "bad")])
        assert res.exit_code == 2 and said in res.output, res.output
    res = CliRunner().invoke(main, ["train", *FAST, "--pl-source", str(teacher),
                                    "--runs", str(tmp_path / "bad")])
    assert res.exit_code == 2 and "pseudo_label" in res.output
