"""Colorization and inpainting pretexts: their losses on hand-made tensors, the refusal of
colorization on greyscale data, and both end to end through `pretrain` → `probe`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tinyssl.cli import main
from tinyssl.methods.colorization import chroma, colorization_loss, to_grey
from tinyssl.methods.inpainting import masked_reconstruction_loss, random_square_masks


def test_colorization_loss_is_zero_for_the_true_colours_only() -> None:
    images = torch.rand(4, 3, 16, 16)
    target = torch.nn.functional.adaptive_avg_pool2d(chroma(images), (8, 8))
    assert colorization_loss(target, images).item() == pytest.approx(0.0, abs=1e-12)
    assert colorization_loss(target + 0.1, images).item() == pytest.approx(0.01, rel=1e-4)
    grey = to_grey(images).expand(-1, 3, -1, -1)  # a grey image has no colour to predict
    assert chroma(grey).abs().max().item() < 1e-6


def test_masked_loss_counts_the_hidden_region_only() -> None:
    images = torch.rand(2, 1, 16, 16)
    masks = torch.zeros(2, 1, 16, 16)
    masks[:, :, 4:12, 4:12] = 1.0  # the centre 4×4 cells of an 8×8 thumbnail
    truth = torch.nn.functional.adaptive_avg_pool2d(images, (8, 8))
    outside_wrong = truth.clone()
    outside_wrong[:, :, :2] += 1.0  # rows 0-1 lie outside the mask
    assert masked_reconstruction_loss(outside_wrong, images, masks).item() == pytest.approx(0.0)
    inside_wrong = truth.clone()
    inside_wrong[:, :, 2:6, 2:6] += 0.5
    assert masked_reconstruction_loss(inside_wrong, images, masks).item() == pytest.approx(0.25)


def test_random_masks_are_one_square_of_the_asked_side_per_image() -> None:
    g = torch.Generator().manual_seed(0)
    masks = random_square_masks(64, 16, 0.5, torch.device("cpu"), generator=g)
    assert masks.shape == (64, 1, 16, 16)
    assert torch.all(masks.sum((1, 2, 3)) == 64)  # 8×8 each
    rows, cols = masks.amax(3), masks.amax(2)  # the lit rows/columns are contiguous
    assert torch.all(rows.sum(-1) == 8) and torch.all(cols.sum(-1) == 8)
    assert len({tuple(m.nonzero()[0].tolist()) for m in masks}) > 10  # positions vary


def _pretrain_and_probe(tmp_path: Path, method: str, data: str, channels_note: str) -> dict:
    cli = CliRunner()
    res = cli.invoke(main, ["pretrain", "--method", method, "--data", data, "--image-size",
                            "16", "--model", "tiny-w2a2", "--width-mult", "0.5", "--steps",
                            "10", "--batch-size", "32", "--eval-every", "5", "--device", "cpu",
                            "--no-progress", "--no-float-twin", "--runs", str(tmp_path / method)])
    assert res.exit_code == 0, (channels_note, res.output)
    (run,) = (tmp_path / method).iterdir()
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [5, 10]
    assert all(m["loss"] > 0 and m["embed_std"] > 0 for m in metrics)
    res = cli.invoke(main, ["probe", str(run), "--data", data, "--labels-per-class", "5",
                            "--k", "3", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    return json.loads((run / "probe.json").read_text())


def test_inpainting_end_to_end_on_digits(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    probe = _pretrain_and_probe(tmp_path, "inpainting", "digits", "grey")
    assert probe["linear_acc"] > 0.2  # chance is 0.1


def test_colorization_end_to_end_on_colour_images_and_refused_on_grey(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 240)
    x = rng.integers(0, 60, (240, 16, 16, 3))
    x[np.arange(240), :, :, y % 3] += 150  # the class shows in the colour
    x[y == 3, :8] += 90
    data = tmp_path / "colour.npz"
    np.savez(data, x_train=x[:200].astype(np.uint8), y_train=y[:200],
             x_test=x[200:].astype(np.uint8), y_test=y[200:])
    probe = _pretrain_and_probe(tmp_path, "colorization", f"npz:{data}", "colour")
    assert probe["linear_acc"] > 0.3  # chance is 0.25
    res = CliRunner().invoke(main, ["pretrain", "--method", "colorization", "--data", "digits",
                                    "--runs", str(tmp_path / "grey"), "--no-progress"])
    assert res.exit_code == 2 and "greyscale (1 channel)" in res.output
    assert not (tmp_path / "grey").exists() or not any((tmp_path / "grey").iterdir())
