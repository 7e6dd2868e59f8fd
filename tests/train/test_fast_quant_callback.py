"""The FastQuant callback (train/callbacks/fast_quant.py): runs trained on the fast path and
on Brevitas's own layers are the same run, bit for bit, resume across paths, and verify."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from tinyssl.config import load_config
from tinyssl.models.fast_quant import uses_fast_quant
from tinyssl.pipeline import run_training
from tinyssl.train.callbacks.base import Callback
from tinyssl.train.callbacks.fast_quant import FastQuant
from tinyssl.train.loop import Trainer
from tinyssl.train.run import default_callbacks, run_config, train
from tinyssl.verify import verify_run

CFG = {"data": "digits", "image_size": 16, "model": "tiny-w2a2", "width_mult": 0.5,
       "labels_per_class": 3, "steps": 8, "eval_every": 4, "batch_size": 16,
       "unlabeled_ratio": 2, "method": "fixmatch", "warmup": 2, "progress": False,
       "device": "cpu"}


def _weights(run: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    return {**{f"method.{k}": v for k, v in ckpt["method"].items()},
            **{f"ema.{k}": v for k, v in ckpt["ema"].items()}}


def _switch_path(run: Path, fast: bool) -> None:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["fast_quant"] = fast
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))


def test_training_and_resume_are_identical_across_paths(tmp_path: Path) -> None:
    """FixMatch for 4 steps on each path gives the same checkpoint bit for bit; each is then
    resumed on the *other* path to 8 steps, and both equal a run that stayed on the fast
    path (state-dict keys shared, nothing learned differently)."""
    torch.set_num_threads(1)
    runs = {}
    for fast in (True, False):
        cfg = load_config(None, {**CFG, "steps": 4, "fast_quant": fast})
        runs[fast] = run_training(cfg, tmp_path / f"first-{fast}")
    a, b = _weights(runs[True]), _weights(runs[False])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    reference = run_training(load_config(None, {}), resume=runs[True], extend_to=8)
    ref = _weights(reference)
    cfg = load_config(None, {**CFG, "steps": 4, "fast_quant": True})
    other = run_training(cfg, tmp_path / "fast-then-brevitas")
    for run, fast in ((runs[False], True), (other, False)):  # Brevitas → fast, fast → Brevitas
        _switch_path(run, fast)
        b = _weights(run_training(load_config(None, {}), resume=run, extend_to=8))
        assert ref.keys() == b.keys()
        assert all(torch.equal(ref[k], b[k]) for k in ref), run


def test_a_run_trained_on_the_fast_path_verifies_bit_exact(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    cfg = load_config(None, {**CFG, "method": "supervised", "width_mult": 0.25, "steps": 12,
                             "eval_every": 6})
    assert cfg.fast_quant
    run = run_training(cfg, tmp_path)
    assert "note:" not in capsys.readouterr().err  # the fast path was taken
    result = verify_run(run, images=16)
    assert result["agree"] and result["first_diverging_stage"] is None
    assert all(s["top1_agreement"] == 1.0 for s in result["stages"].values())


def test_no_fast_quant_flag_reaches_the_run_config(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tinyssl.cli import main

    result = CliRunner().invoke(main, [
        "train", "--data", "digits", "--labels-per-class", "2", "--steps", "2",
        "--eval-every", "2", "--width-mult", "0.25", "--no-fast-quant", "--no-progress",
        "--threads", "1", "--runs", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    assert yaml.safe_load((run / "config.yaml").read_text())["fast_quant"] is False


class _Paths(Callback):
    """Records, once the run starts, which of the trainer's networks run the fast path."""

    def on_start(self, trainer: Trainer) -> None:
        self.seen = {"net": uses_fast_quant(trainer.net),
                     "ema": uses_fast_quant(trainer.ema.module),
                     **{name: uses_fast_quant(m) for name, m in trainer.method.named_children()
                        if name.startswith("target_")}}


@pytest.mark.parametrize(("method", "fast"), [("byol", True), ("supervised", False)])
def test_the_callback_switches_every_trained_copy(method: str, fast: bool,
                                                  tmp_path: Path) -> None:
    """The network, the EMA copy and a method's own copies (BYOL's target encoder, deep-copied
    before the callback runs) all take the fast path; none does with fast_quant off."""
    torch.set_num_threads(1)
    cfg = run_config(load_config(None, {**CFG, "method": method, "steps": 1, "eval_every": 1,
                                        "ema": 0.9, "fast_quant": fast}), None, None)
    assert any(isinstance(c, FastQuant) for c in default_callbacks(cfg)) is fast
    paths = _Paths()
    train(cfg, tmp_path, extra=[paths])
    assert paths.seen["net"] is fast and paths.seen["ema"] is fast
    if method == "byol":
        assert paths.seen["target_encoder"] is fast
