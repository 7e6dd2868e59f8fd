"""Temperature scaling and class-balanced, calibrated pseudo-label growth (issue 30) on
hand-made logits, and one calibrated growth run on digits writing pseudolabels.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tinyssl.train.calibration import fit_temperature, nll, scale_probs
from tinyssl.train.callbacks.growth import PseudoLabelGrowth
from tinyssl.train.pseudo_select import added_and_wrong, select_confident


def _model(n: int, k: int, seed: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of a hand-made classifier whose margin (the evidence) grows with how often it
    is right: right with probability sigmoid(2·(margin − 4)), logits = `scale` × margin on the
    predicted class. scale 1 is about calibrated; scale 4 is over-confident."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(k, (n,), generator=g)
    margin = 2 + 6 * torch.rand(n, generator=g)
    right = torch.rand(n, generator=g) < torch.sigmoid(2 * (margin - 4))
    pred = torch.where(right, y, (y + torch.randint(1, k, (n,), generator=g)) % k)
    logits = torch.zeros(n, k)
    logits[torch.arange(n), pred] = scale * margin
    return logits, y


def test_temperature_scaling_lowers_the_nll_of_an_over_confident_model() -> None:
    logits, y = _model(600, 4, seed=0, scale=4.0)
    t = fit_temperature(logits, y)
    assert t > 2.0  # confidences get softer
    assert nll(logits, y, t) < 0.7 * nll(logits, y)
    grid = min(nll(logits, y, s) for s in np.linspace(0.5, 10, 96))
    assert nll(logits, y, t) <= grid + 1e-4  # LBFGS found the minimum
    # an under-confident one is sharpened instead
    soft, y2 = _model(600, 4, seed=1, scale=0.25)
    assert fit_temperature(soft, y2) < 1.0
    with pytest.raises(ValueError, match="validation"):
        fit_temperature(torch.zeros(0, 4), torch.zeros(0))


def test_scaled_probabilities_keep_every_prediction() -> None:
    probs = torch.randn(50, 5).softmax(1).numpy()
    for t in (0.3, 1.0, 3.0):
        scaled = scale_probs(probs, t)
        np.testing.assert_allclose(scaled.sum(1), 1.0, rtol=1e-5)
        assert (scaled.argmax(1) == probs.argmax(1)).all()
    np.testing.assert_allclose(scale_probs(probs, 1.0), probs, rtol=1e-4, atol=1e-6)
    assert scale_probs(probs, 3.0).max(1).mean() < probs.max(1).mean()


def test_class_balanced_selection_adds_equal_counts_per_class() -> None:
    rng = np.random.default_rng(0)
    pred = rng.choice(3, size=300, p=[0.7, 0.2, 0.1])  # class 0 dominates the confident
    probs = np.full((300, 3), 0.01)
    probs[np.arange(300), pred] = rng.uniform(0.5, 0.98, 300)
    probs /= probs.sum(1, keepdims=True)
    positions, labels = select_confident(probs, 0.9, 60, 3, balanced=True)
    counts = np.bincount(labels, minlength=3)
    assert counts[0] == counts[1] == counts[2] > 0
    assert (probs[positions].max(1) > 0.9).all() and len(set(positions.tolist())) == len(positions)
    # each class's picks are its most confident candidates
    for c in range(3):
        mine = probs[positions[labels == c], c]
        rest = probs[(pred == c) & ~np.isin(np.arange(300), positions), c]
        assert mine.min() >= rest.max()
    unbalanced = np.bincount(select_confident(probs, 0.9, 60, 3, balanced=False)[1],
                             minlength=3)
    assert unbalanced[0] > 2 * unbalanced[2]


def test_calibrated_balanced_growth_adds_equal_counts_and_fewer_wrong() -> None:
    val_logits, val_y = _model(300, 3, seed=2, scale=4.0)
    pool_logits, pool_y = _model(2000, 3, seed=3, scale=4.0)
    probs, val_probs = pool_logits.softmax(1).numpy(), val_logits.softmax(1).numpy()
    growth = PseudoLabelGrowth(3, threshold=0.9, max_add=300, balanced=True, calibrate=True)
    positions, labels = growth.select(probs, val_probs, val_y.numpy())
    true = pool_y.numpy()
    record = growth.event(7, labels, true[positions], true)
    assert len(set(record["added"])) == 1 and record["added"][0] > 0  # the same per class
    assert record["temperature"] > 2.0
    raw = record["uncalibrated"]
    assert len(set(raw["added"])) == 1 and sum(raw["added"]) >= sum(record["added"])
    # the calibrated 0.9 keeps only the strong evidence: a smaller share of wrong labels
    assert sum(record["wrong"]) / sum(record["added"]) < 0.5 * sum(raw["wrong"]) / sum(
        raw["added"])
    assert added_and_wrong(labels, true[positions], 3) == {
        k: record[k] for k in ("added", "wrong", "unknown")}
    # without calibration: the old record, the raw picks
    plain = PseudoLabelGrowth(3, threshold=0.9, max_add=300, balanced=True)
    raw_pos, raw_labels = plain.select(probs)
    assert set(plain.event(7, raw_labels, true[raw_pos], true)) == {"step", "added", "wrong",
                                                                    "unknown"}
    assert np.bincount(raw_labels, minlength=3).tolist() == raw["added"]


def test_calibrated_growth_run_reports_both_arms(tmp_path: Path) -> None:
    from tinyssl.cli import main

    torch.set_num_threads(1)
    res = CliRunner().invoke(main, [
        "train", "--data", "digits", "--image-size", "16", "--model", "tiny-w2a2",
        "--width-mult", "0.5", "--device", "cpu", "--no-progress", "--labels-per-class", "5",
        "--steps", "10", "--batch-size", "16", "--eval-every", "5", "--method", "pseudolabel",
        "--pl-target", "0", "--pl-every", "5", "--pl-max", "40", "--pl-threshold", "0.1",
        "--pl-calibrate",
        "--runs", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert run.name.startswith("pseudolabel-cal-")
    events = [json.loads(x) for x in (run / "pseudolabels.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events] == [5, 10]
    for e in events:
        assert e["temperature"] > 0 and len(e["added"]) == len(e["uncalibrated"]["added"]) == 10
        assert all(0 <= w <= a for w, a in zip(e["wrong"], e["added"], strict=True))
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    first, total = sum(events[0]["added"]), sum(sum(e["added"]) for e in events)
    assert total > 0 and metrics[-1]["labeled"] in (50 + first, 50 + total)  # moved for real
    res = CliRunner().invoke(main, ["train", "--data", "digits", "--labels-per-class", "5",
                                    "--val-per-class", "0", "--pseudo-label", "--pl-calibrate",
                                    "--runs", str(tmp_path)])
    assert res.exit_code == 2 and "val_per_class" in res.output
