"""The teacher → student pieces: adaptive thresholds, distribution alignment, distillation,
float twins and their fitted initialisation of quantized networks, the unlabelled-pool cap,
the near-chance warning, and `tinyssl fit` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tinyssl.cli import main
from tinyssl.config import load_config
from tinyssl.methods.distill import distillation_loss
from tinyssl.methods.flexmatch import flexmatch_thresholds
from tinyssl.methods.freematch import FreeMatch
from tinyssl.methods.uda import UDA
from tinyssl.models import build_model
from tinyssl.models.float_init import fit_weight_scales, init_from_float_twin, quantize_levels
from tinyssl.pipeline import run_training
from tinyssl.train.setup import cap_pool
from tinyssl.train.verdict import chance_accuracy, result_warnings

FAST = {"data": "digits", "image_size": 16, "labels_per_class": 5, "batch_size": 32,
        "unlabeled_ratio": 2, "warmup": 0, "progress": False, "device": "cpu"}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_freematch_thresholds_start_at_chance_and_follow_confidence() -> None:
    method = FreeMatch(build_model("tiny-float", 1, 16, 4), 4, ema=0.5)
    assert method.time_p.item() == pytest.approx(0.25)
    # confident predictions, always class 0: the global bar rises towards the confidence,
    # and the classes the model never predicts get lower bars than class 0
    probs = torch.tensor([[0.97, 0.01, 0.01, 0.01]] * 8)
    for _ in range(6):
        bars = method.update_thresholds(probs)
    assert 0.9 < method.time_p.item() < 0.97
    assert bars[0] == pytest.approx(method.time_p.item())
    assert (bars[1:] < 0.5 * bars[0]).all()
    assert method.label_hist[0] > 0.9


def test_freematch_masks_below_the_class_bar() -> None:
    method = FreeMatch(build_model("tiny-float", 1, 16, 2), 2, ema=0.0, fairness=0.0)
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4]])
    student = torch.zeros(2, 2, requires_grad=True)
    loss, mask = method.unlabeled_loss(probs, student, None)
    # bar for class 0 = mean top confidence 0.75 → the 0.6 image is masked out
    assert mask.item() == pytest.approx(0.5)
    assert loss.item() == pytest.approx(0.5 * np.log(2), rel=1e-5)


def test_flexmatch_thresholds_warm_up_then_follow_learning() -> None:
    undecided = torch.full((10,), -1)
    assert torch.equal(flexmatch_thresholds(undecided, 3, 0.95), torch.zeros(3))
    learned = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 2, -1])
    bars = flexmatch_thresholds(learned, 3, 0.95)
    assert bars[0] == pytest.approx(0.95)  # best-learnt class: the full τ
    assert bars[0] > bars[1] > bars[2] > 0


def test_distribution_alignment_pulls_towards_uniform() -> None:
    method = UDA(build_model("tiny-float", 1, 16, 2), 2, dist_align=True)
    method.ema_decay = 0.0
    logits = torch.tensor([[2.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    aligned = method.teacher_probs(logits)
    assert torch.allclose(aligned.sum(1), torch.ones(3))
    assert aligned.mean(0)[1] > logits.softmax(1).mean(0)[1]  # the rare class gains mass


def test_distillation_loss_is_zero_only_for_equal_predictions() -> None:
    t = torch.randn(6, 5)
    for temperature in (1.0, 4.0):
        assert distillation_loss(t.clone(), t, temperature).item() == pytest.approx(0, abs=1e-6)
        assert distillation_loss(t + torch.randn(6, 5), t, temperature).item() > 1e-3


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_weight_scale_fit_beats_the_largest_weight(bits: int) -> None:
    w = torch.randn(4, 50) * 0.05
    s = fit_weight_scales(w, bits)
    err_fit = ((quantize_levels(w / s[:, None], bits) * s[:, None] - w) ** 2).sum()
    top = w.abs().amax(1)
    err_max = ((quantize_levels(w / top[:, None], bits) * top[:, None] - w) ** 2).sum()
    assert err_fit <= err_max + 1e-9


def _trained_twin() -> tuple[torch.nn.Module, torch.Tensor]:
    from tinyssl.data import load_dataset

    torch.manual_seed(0)
    bundle = load_dataset("digits", image_size=16)
    x = torch.from_numpy(bundle.train.x).permute(0, 3, 1, 2).float() / 255
    y = torch.from_numpy(bundle.train.y)
    twin = build_model("tiny-float", 1, 16, 10)
    opt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    for i in range(60):
        idx = torch.arange(i * 64, i * 64 + 64) % len(x)
        loss = torch.nn.functional.cross_entropy(twin(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return twin.eval(), x


def test_float_twin_initialises_the_8_bit_network_to_the_same_predictions() -> None:
    """Tolerance: ≥ 98 % top-1 agreement and logits within 5 % of their spread at 8 bits;
    the same weights copied without fitting agree far less at 2 bits."""
    twin, x = _trained_twin()
    quant = build_model("tiny-w8a8", 1, 16, 10)
    init_from_float_twin(quant, twin, 8, 8, x[:256])
    quant.eval()
    with torch.no_grad():
        ref, out = twin(x), quant(x)
    assert (ref.argmax(1) == out.argmax(1)).float().mean() >= 0.98
    assert (ref - out).abs().max() <= 0.05 * (ref.max() - ref.min())
    fitted, copied = build_model("tiny-w2a2", 1, 16, 10), build_model("tiny-w2a2", 1, 16, 10)
    init_from_float_twin(fitted, twin, 2, 2, x[:256])
    copied.load_state_dict(twin.state_dict())
    with torch.no_grad():
        agree_fit = (fitted.eval()(x).argmax(1) == ref.argmax(1)).float().mean()
        agree_copy = (copied.eval()(x).argmax(1) == ref.argmax(1)).float().mean()
    assert agree_fit > agree_copy + 0.2


def test_init_from_a_float_twin_run_and_refusals(tmp_path: Path) -> None:
    twin = run_training(load_config(None, {**FAST, "model": "tiny-float", "steps": 20,
                                           "eval_every": 10}), tmp_path / "twin")
    student = run_training(load_config(None, {**FAST, "model": "tiny-w2a2", "steps": 1,
                                              "eval_every": 1, "init": str(twin)}),
                           tmp_path / "student")
    assert json.loads((student / "summary.json").read_text())["test_acc"] > 0.3
    with pytest.raises(ValueError, match="float twin of its family"):
        run_training(load_config(None, {**FAST, "model": "small-w2a2", "steps": 1,
                                        "init": str(twin)}), tmp_path / "bad")


def test_distill_needs_a_compatible_teacher(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a teacher run"):
        run_training(load_config(None, {**FAST, "method": "distill", "steps": 1}), tmp_path)
    with pytest.raises(ValueError, match="not a trained run directory"):
        run_training(load_config(None, {**FAST, "method": "distill", "steps": 1,
                                        "method_options": {"teacher": str(tmp_path)}}),
                     tmp_path)


def test_unlabeled_cap_is_seeded_and_keeps_labels_and_validation_out() -> None:
    pool = np.arange(100, 1100)
    a, b = cap_pool(pool, 200, seed=3), cap_pool(pool, 200, seed=3)
    assert len(a) == 200 and np.array_equal(a, b)
    assert set(a) <= set(pool.tolist())
    assert not np.array_equal(a, cap_pool(pool, 200, seed=4))
    assert len(cap_pool(pool, 0.25, seed=0)) == 250
    assert len(cap_pool(pool, 5000, seed=0)) == 1000
    with pytest.raises(ValueError, match="unlabeled must be"):
        load_config(None, {"unlabeled": 2.5})


def test_capped_run_draws_from_the_smaller_pool(tmp_path: Path) -> None:
    run = run_training(load_config(None, {**FAST, "method": "fixmatch", "steps": 2,
                                          "eval_every": 2, "unlabeled": 100}), tmp_path)
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    split = np.load(run / "split.npz")
    unlabeled = ckpt["unlabeled"]
    assert len(unlabeled) == 100
    assert not set(unlabeled) & (set(split["labeled"]) | set(split["val"]))


def test_near_chance_warning() -> None:
    assert chance_accuracy(np.array([0, 0, 0, 1]), 2) == 0.75
    assert "near chance (25.0 %)" in result_warnings(0.27, 0.25)[0]
    assert result_warnings(0.9, 0.25) == []
    below = result_warnings(0.8, 0.1, baseline=0.85)
    assert len(below) == 1 and "below the supervised baseline" in below[0]


def test_a_run_of_a_few_steps_warns_near_chance(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "train", "--data", "digits", "--image-size", "16", "--labels-per-class", "2",
        "--steps", "2", "--eval-every", "2", "--lr", "0.0001", "--no-progress", "--device",
        "cpu", "--runs", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "warning: test accuracy" in result.output and "near chance" in result.output
    summary = json.loads(next(tmp_path.glob("*/summary.json")).read_text())
    assert summary["chance_acc"] == pytest.approx(0.1, abs=0.01)
    assert summary["warnings"] and "near chance" in summary["warnings"][0]


def test_fit_end_to_end_on_digits(tmp_path: Path) -> None:
    """Under a minute of training on 2 cores: baseline, teacher, float-init, distilled
    student, export, FINN estimates, bit-exact verification, fit.md; resume keeps it all."""
    args = ["fit", "--data", "digits", "--image-size", "16", "--labels-per-class", "5",
            "--steps", "120", "--no-auto", "--target-fps", "100000", "--device", "cpu",
            "--no-progress",
            "--runs", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "about" in result.output and "min of training" in result.output  # the estimate
    fit_dir = next(tmp_path.glob("fit-digits-*"))
    report = json.loads((fit_dir / "fit.json").read_text())
    stages = {s["stage"]: s for s in report["stages"]}
    assert list(stages) == ["baseline", "teacher", "float_init", "student"]
    assert stages["teacher"]["model"] == "tiny-float"
    assert stages["student"]["method"] == "distill"
    assert all(0 <= s["test_acc"] <= 1 for s in stages.values())
    assert report["verify"]["agree"] is True
    assert report["fpga"]["est_fps"] > 0
    assert f"tinyssl predict {fit_dir} IMAGES" in result.output  # the next commands
    assert "Running step" not in result.output  # FINN's step lines stay in its build log
    gain = report["gain_over_baseline"]
    assert (f"The distilled student {'gains' if gain > 0 else 'loses'} {abs(100 * gain):.1f} "
            "points") in (fit_dir / "fit.md").read_text()
    again = CliRunner().invoke(main, ["fit", "--resume", str(fit_dir)])
    assert again.exit_code == 0, again.output
    assert again.output.count("done before, kept") == 4


def test_fit_refuses_bad_requests(tmp_path: Path) -> None:
    runner = CliRunner()
    float_student = runner.invoke(main, ["fit", "--model", "tiny-float", "--labels", "20"])
    assert float_student.exit_code == 2 and "quantized student" in float_student.output
    no_budget = runner.invoke(main, ["fit", "--runs", str(tmp_path)])
    assert no_budget.exit_code == 2 and "few labels" in no_budget.output
    no_rule = runner.invoke(main, ["fit", "--labels", "20", "--selection-rounds", "2"])
    assert no_rule.exit_code == 2 and "needs a selection rule" in no_rule.output


def test_fit_labelling_rounds_happen_in_the_teacher_and_every_stage_shares_them(
        tmp_path: Path) -> None:
    """With --selection-rounds the teacher labels half the budget by the rule and half by its
    own uncertainty; the baseline (moved after the teacher) and the student train on the
    teacher's whole labelled set, read back from its labels.csv."""
    from tinyssl.data import load_dataset
    from tinyssl.data.labels_file import read_labels_file
    from tinyssl.data.types import Split

    args = ["fit", "--data", "digits", "--image-size", "16", "--labels-per-class", "2",
            "--selection", "typicover", "--selection-features", "pixels",
            "--selection-rounds", "2", "--steps", "40", "--teacher-steps", "40", "--no-hardware",
            "--no-auto",
            "--device", "cpu", "--no-progress", "--runs", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    fit_dir = next(tmp_path.glob("fit-digits-*"))
    report = json.loads((fit_dir / "fit.json").read_text())
    assert [s["stage"] for s in report["stages"]] == ["teacher", "baseline", "float_init",
                                                       "student"]
    first = Split.load(fit_dir / "teacher" / "split.npz")
    assert len(first.labeled) == 10  # the rule's half of 20
    bundle = load_dataset("digits", image_size=16)
    labelled, labels = read_labels_file(fit_dir / "teacher" / "labels.csv", bundle)
    assert len(labelled) == 20 and set(first.labeled) <= set(labelled)
    assert labels is not None and (labels == bundle.train.y[labelled]).all()  # the oracle's
    assert not set(labelled) & set(first.val)
    for stage in ("baseline", "float_init", "student"):
        split = Split.load(fit_dir / stage / "split.npz")
        assert sorted(split.labeled) == sorted(labelled) and split.source == "labels-file"


def test_fit_fine_tunes_from_the_teacher_at_a_lower_rate(tmp_path: Path) -> None:
    """The stages that start from the float twin train at student_lr (0.1 by default); the
    baseline and the teacher keep their presets' rates, and a student that cannot start from
    a different-family teacher trains from scratch at its preset's rate."""
    from tinyssl.pipeline.fit import FitConfig, plan

    lr = {s.name: s.train.lr for s in plan(FitConfig.load(None, {"labels": 20}), tmp_path)}
    assert lr["float_init"] == lr["student"] == 0.1
    assert lr["baseline"] == 0.3 and lr["teacher"] == 0.03
    other = FitConfig.load(None, {"labels": 20, "teacher_model": "resnet18", "student_lr": 0.05})
    stages = {s.name: s.train for s in plan(other, tmp_path)}
    assert "float_init" not in stages and stages["student"].lr == 0.3
    assert stages["student"].init is None
