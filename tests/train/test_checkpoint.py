"""Checkpoints: Ctrl-C saves first and `resume` continues bit-for-bit; a NaN loss stops
with a clear message and keeps the last good checkpoint."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from train_fixtures import killed_run

from tinyssl.config import load_config
from tinyssl.methods.consistency import Consistency
from tinyssl.methods.supervised import Supervised
from tinyssl.pipeline import run_training
from tinyssl.train import TrainingDiverged, TrainingInterrupted

CFG = {"data": "digits", "image_size": 16, "model": "tiny-w2a2", "labels_per_class": 3,
       "steps": 12, "eval_every": 4, "batch_size": 16, "unlabeled_ratio": 2,
       "method": "uda", "pseudo_label": True, "pl_target": 0.0, "pl_every": 3, "pl_max": 10,
       "pl_threshold": 0.0, "warmup": 2, "progress": False, "device": "cpu"}


def _weights(run: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    return {**{f"method.{k}": v for k, v in ckpt["method"].items()},
            **{f"ema.{k}": v for k, v in ckpt["ema"].items()}}


def test_ctrl_c_then_resume_matches_the_uninterrupted_run(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    straight = run_training(load_config(None, CFG), tmp_path / "a")
    # the keys every version has written (train_cpu_s since 2026-12-02, read with a
    # default), so an older last.pt resumes with this code
    assert list(torch.load(straight / "checkpoints" / "last.pt", weights_only=False)) == [
        "model", "model_spec", "classes", "step", "method", "optimizer", "scheduler", "scaler",
        "ema", "rng", "streams", "growth", "labeled", "unlabeled", "train_time_s",
        "images_seen", "config", "running_logs", "train_cpu_s", "best_val_acc", "last_val_acc",
        "time_to_target_s"]

    original = Consistency.training_step
    calls = {"n": 0}

    def interrupt_at_step_6(self, labeled, unlabeled, progress):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 6:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, mid-step
        return original(self, labeled, unlabeled, progress)

    monkeypatch.setattr(Consistency, "training_step", interrupt_at_step_6)
    with pytest.raises(TrainingInterrupted) as info:
        run_training(load_config(None, CFG), tmp_path / "b")
    run = info.value.run
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=False)["step"] == 6
    assert not (run / "summary.json").exists()
    monkeypatch.setattr(Consistency, "training_step", original)

    resumed = run_training(load_config(None, {}), resume=run)
    assert resumed == run
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    sa = json.loads((straight / "summary.json").read_text())
    sb = json.loads((resumed / "summary.json").read_text())
    assert sa["test_acc"] == sb["test_acc"] and sa["final_labeled"] == sb["final_labeled"]
    assert (straight / "pseudolabels.jsonl").read_text() == \
        (resumed / "pseudolabels.jsonl").read_text()


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Supervised.labeled_loss
    calls = {"n": 0}

    def nan_at_step_7(self, logits, y):  # noqa: ANN001, ANN202
        calls["n"] += 1
        loss = original(self, logits, y)
        return loss * float("nan") if calls["n"] == 7 else loss

    monkeypatch.setattr(Supervised, "labeled_loss", nan_at_step_7)
    cfg = load_config(None, {**CFG, "method": "supervised", "pseudo_label": False})
    with pytest.raises(TrainingDiverged, match="loss became nan at step 7.*last good"):
        run_training(cfg, tmp_path)
    (run,) = tmp_path.iterdir()
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_a_time_based_checkpoint_between_validations_resumes_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a `kill -9` leaves: last.pt written by the time interval at step 6, between the
    validations at 4 and 8; resuming from it ends with the uninterrupted run's weights."""
    torch.set_num_threads(1)
    cfg = {**CFG, "checkpoint_every_s": 0.0}
    straight = run_training(load_config(None, cfg), tmp_path / "a")
    run = killed_run(cfg, tmp_path / "b", monkeypatch)  # the state at kill
    resumed = run_training(load_config(None, {}), resume=run)
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
