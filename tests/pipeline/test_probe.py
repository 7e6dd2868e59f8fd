"""The probe protocols on hand-made features, BatchNorm calibration, channel conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinyssl.data.images import convert_channels
from tinyssl.data.types import DataError
from tinyssl.models import build_model
from tinyssl.pipeline.probe import (
    calibrate_batchnorm,
    floor_verdict,
    knn_accuracy,
    linear_probe_accuracy,
)
from tinyssl.train.evaluate import encoder_features


def _clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.eye(3, 8) * 5
    return centres[y] + rng.normal(size=(n, 8)), y


def test_probes_separate_clusters_and_fail_on_noise() -> None:
    train_f, train_y = _clusters(30, 0)
    test_f, test_y = _clusters(300, 1)
    assert linear_probe_accuracy(train_f, train_y, test_f, test_y) > 0.95
    assert knn_accuracy(train_f, train_y, test_f, test_y, k=5) > 0.95
    noise = np.random.default_rng(2).normal(size=test_f.shape)
    assert knn_accuracy(train_f, train_y, noise, test_y, k=5) < 0.6


def test_knn_uses_cosine_and_caps_k() -> None:
    train_f = np.array([[1.0, 0.0], [0.0, 1.0]])
    train_y = np.array([0, 1])
    test_f = np.array([[100.0, 1.0], [0.1, 1.0]])  # direction, not length, decides
    assert knn_accuracy(train_f, train_y, test_f, np.array([0, 1]), k=1) == 1.0
    assert knn_accuracy(train_f, train_y, test_f, np.array([0, 1]), k=50) in (0.5, 1.0)
    with pytest.raises(ValueError, match="k must"):
        knn_accuracy(train_f, train_y, test_f, np.array([0, 1]), k=0)


def test_linear_probe_needs_two_classes() -> None:
    with pytest.raises(DataError, match="two classes"):
        linear_probe_accuracy(np.ones((3, 2)), np.zeros(3), np.ones((1, 2)), np.zeros(1))


def test_calibrated_batchnorm_matches_the_data() -> None:
    torch.manual_seed(0)
    net = build_model("tiny-w2a2", 1, 16, 10, width_mult=0.5)
    x = torch.randint(0, 256, (64, 1, 16, 16), dtype=torch.uint8)
    before = encoder_features(net.encoder, x)
    calibrate_batchnorm(net.encoder, x)
    bn = net.encoder.features[1]
    conv_out = net.encoder.features[0](net.encoder.input_quant(2 * x.float() / 255 - 1))
    torch.testing.assert_close(bn.running_mean, conv_out.mean((0, 2, 3)), atol=1e-3, rtol=1e-3)
    assert not net.encoder.training and bn.momentum == 0.1
    assert not np.allclose(before, encoder_features(net.encoder, x))


def test_convert_channels_grey_and_rgb() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)[..., :1]
    rgb = convert_channels(grey, 3)
    assert rgb.shape == (1, 2, 2, 3) and (rgb == grey).all()
    assert (convert_channels(rgb, 1) == grey).all()  # equal channels: luma is the value
    pure_red = np.zeros((1, 1, 1, 3), np.uint8)
    pure_red[..., 0] = 255
    assert convert_channels(pure_red, 1).item() == 76  # round(0.299 · 255)


def test_the_verdict_says_when_pretraining_did_not_beat_the_floor() -> None:
    floor = {"linear_acc": 0.30, "knn_acc": 0.28}
    assert floor_verdict({"linear_acc": 0.36, "knn_acc": 0.35, "floor": floor}, 8) is None
    knn_behind = floor_verdict({"linear_acc": 0.36, "knn_acc": 0.28, "floor": floor}, 8)
    assert knn_behind and "did not beat a random encoder" in knn_behind
    assert "kNN 28.0 % vs 28.0 %" in knn_behind  # a tie is not a win
    below_chance = floor_verdict({"linear_acc": 0.1975, "knn_acc": 0.30}, 4)
    assert below_chance and "below chance (25.0 %)" in below_chance  # the issue-30 user's
    assert floor_verdict({"linear_acc": 0.30, "knn_acc": 0.30}, 4) is None  # no floor asked
