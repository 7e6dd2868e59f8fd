"""Every semi-supervised method trains on digits through the one loop: the loss falls, the
run directory holds what the contract promises, pseudo-label growth moves images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tinyssl.config import load_config
from tinyssl.methods.uda import tsa_threshold
from tinyssl.models import build_model
from tinyssl.pipeline import run_training
from tinyssl.train.callbacks.growth import PseudoLabelGrowth
from tinyssl.train.evaluate import recalibrate_bn

FAST = {"data": "digits", "image_size": 16, "model": "tiny-w2a2", "labels_per_class": 5,
        "steps": 40, "eval_every": 10, "batch_size": 32, "unlabeled_ratio": 2,
        "lr": 0.05, "warmup": 0, "progress": False, "device": "cpu"}


def _records(run: Path, name: str = "metrics.jsonl") -> list[dict]:
    return [json.loads(line) for line in (run / name).read_text().splitlines()]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize("method", ["supervised", "uda", "fixmatch", "pseudolabel", "freematch",
                                    "flexmatch"])
def test_method_trains_and_writes_a_run(method: str, tmp_path: Path) -> None:
    run = run_training(load_config(None, {**FAST, "method": method}), tmp_path)
    metrics = _records(run)
    assert [m["step"] for m in metrics] == [10, 20, 30, 40]
    key = "loss_x" if method in ("uda", "fixmatch", "freematch", "flexmatch") else "loss"
    assert metrics[-1][key] < metrics[0][key]
    if method in ("uda", "fixmatch", "freematch", "flexmatch"):
        assert {"loss_u", "mask"} <= set(metrics[-1])
    for name in ("config.yaml", "split.npz", "env.json", "summary.json",
                 "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == method and summary["labels"] == 50 and summary["steps"] == 40
    assert 0.0 <= summary["test_acc"] <= 1.0 and summary["images_per_s"] > 0
    assert summary["best_val_acc"] == max(m["val_acc"] for m in metrics)
    cm = np.asarray(summary["confusion_matrix"])
    assert cm.shape == (10, 10) and np.trace(cm) / cm.sum() == pytest.approx(summary["test_acc"])


def test_pseudo_label_growth_moves_images_and_counts_mistakes(tmp_path: Path) -> None:
    cfg = load_config(None, {**FAST, "method": "uda", "pseudo_label": True, "pl_target": 0.0,
                             "pl_every": 10, "pl_max": 30, "pl_threshold": 0.0,
                             "steps": 30})
    run = run_training(cfg, tmp_path)
    events = _records(run, "pseudolabels.jsonl")
    assert [e["step"] for e in events] == [10, 20, 30]
    assert all(sum(e["added"]) == 30 and len(e["added"]) == 10 for e in events)
    assert all(0 <= w <= a for e in events for w, a in zip(e["wrong"], e["added"], strict=True))
    labeled = [m["labeled"] for m in _records(run)]
    assert labeled == [50, 80, 110]  # logged at validation, just before each growth step
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "uda+pl" and summary["final_labeled"] == 140


def test_growth_selection_rules() -> None:
    probs = np.array([[0.95, 0.05], [0.99, 0.01], [0.2, 0.8], [0.05, 0.95], [0.97, 0.03]])
    g = PseudoLabelGrowth(num_classes=2, target=0.7, every=5, max_add=2, threshold=0.9)
    assert not g.due(5, 0.5) and not g.due(7, 0.9) and g.due(10, 0.1)  # stays on once on
    pos, labels = g.select(probs)
    assert pos.tolist() == [1, 4] and labels.tolist() == [0, 0]  # most confident, any class
    g.balanced = True
    pos, labels = g.select(probs)
    assert sorted(zip(pos.tolist(), labels.tolist(), strict=True)) == [(1, 0), (3, 1)]
    g.max_add = 6  # up to 3 per class, but class 1 has one candidate: one each
    assert sorted(g.select(probs)[0].tolist()) == [1, 3]
    pos, _ = g.select(probs[[0, 1, 2, 4]])  # no confident class-1 image: add nothing
    assert pos.size == 0
    event = g.event(3, np.array([0, 1, 1]), np.array([0, 0, -1]))
    assert event["added"] == [1, 2] and event["wrong"] == [0, 1] and event["unknown"] == 1


def test_tsa_schedules_rise_from_chance_to_one() -> None:
    for schedule in ("linear", "log", "exp"):
        assert tsa_threshold(schedule, 0.0, 10) == pytest.approx(0.1, abs=0.01)
        assert tsa_threshold(schedule, 1.0, 10) == pytest.approx(1.0, abs=0.01)
    assert tsa_threshold("log", 0.2, 10) > tsa_threshold("linear", 0.2, 10) > \
        tsa_threshold("exp", 0.2, 10)


def test_init_from_another_run_copies_the_encoder(tmp_path: Path) -> None:
    first = run_training(load_config(None, {**FAST, "steps": 10}), tmp_path)
    cfg = load_config(None, {**FAST, "steps": 10, "init": str(first), "freeze_encoder": True,
                             "ema": 0.0})
    second = run_training(cfg, tmp_path)
    a = torch.load(first / "checkpoints" / "best.pt", weights_only=False)["model"]
    b = torch.load(second / "checkpoints" / "last.pt", weights_only=False)["model"]
    enc = [k for k in a if k.startswith("encoder.")]
    assert enc and all(torch.equal(a[k], b[k]) for k in enc)  # frozen: BN stats too
    assert not all(torch.equal(a[k], b[k]) for k in a if k.startswith("classifier."))


@pytest.mark.parametrize("options, label", [
    ({"method": "uda"}, "uda"),
    ({"method": "uda", "pseudo_label": True}, "uda+pl"),
    ({"method": "uda", "pseudo_label": True, "pl_balanced": True}, "uda+pl-bal"),
    ({"method": "pseudolabel", "pl_balanced": True}, "pseudolabel-bal"),
])
def test_reports_tell_growth_variants_apart(options: dict, label: str) -> None:
    assert load_config(None, options).method_label == label


def test_bn_recalibration_replaces_stale_statistics_with_the_images_own() -> None:
    torch.manual_seed(0)
    net = build_model("tiny-w2a2", 1, 16, 10)
    bn = next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen: list[torch.Tensor] = []
    bn.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0].detach()))
    x = torch.randint(0, 256, (300, 1, 16, 16), dtype=torch.uint8)
    bn.running_mean.fill_(5.0)  # stale statistics, as after oscillating low-bit weights
    bn.running_var.fill_(100.0)
    net.eval()
    recalibrate_bn(net, x, batch_size=100)
    assert not net.training  # mode is restored
    feats = torch.cat(seen)  # what BN saw, over all three batches
    assert torch.allclose(bn.running_mean, feats.mean((0, 2, 3)), atol=1e-4)
    assert torch.allclose(bn.running_var, feats.var((0, 2, 3)), rtol=0.05)
