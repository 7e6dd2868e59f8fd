"""The model zoo: every preset builds and trains, quantizers give FINN's integer levels,
and bad names, bit widths and inputs fail with one clear sentence."""

from __future__ import annotations

import pytest
import torch

from tinyssl.models import available_models, build_model, parse_quant_name


def _size_for(name: str) -> int:
    return 16 if name.startswith("tiny") else 32


@pytest.mark.parametrize("name", available_models())
def test_every_preset_builds_and_trains(name: str) -> None:
    torch.manual_seed(0)
    size = _size_for(name)
    width = 1.0 if name.startswith("tiny") else 0.25
    net = build_model(name, 3, size, 7, width_mult=width)
    x = torch.rand(4, 3, size, size)
    logits = net(x)
    assert logits.shape == (4, 7)
    assert torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    grads = [p.grad for p in net.encoder.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
    assert net.quantized == (parse_quant_name(name) is not None)


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 3), (64, 3), (96, 1)])
def test_cnv_takes_the_data_layers_sizes(size: int, channels: int) -> None:
    net = build_model("cnv-w2a2", channels, size, 10, width_mult=0.125).eval()
    assert net(torch.rand(2, channels, size, size)).shape == (2, 10)


def test_full_cnv_is_finns_topology() -> None:
    net = build_model("cnv-w1a1", 3, 32, 10)
    convs = [m.out_channels for m in net.encoder.features if hasattr(m, "out_channels")]
    fcs = [m.out_features for m in net.encoder.fc if hasattr(m, "out_features")]
    assert convs == [64, 64, 128, 128, 256, 256]
    assert fcs == [512, 512]


@pytest.mark.parametrize(("bits", "levels"), [(1, {-1.0, 1.0}), (2, {-1.0, 0.0, 1.0})])
def test_weights_take_finns_integer_levels(bits: int, levels: set[float]) -> None:
    net = build_model(f"tiny-w{bits}a{bits}", 1, 16, 10)
    conv = net.encoder.features[0]
    q = conv.quant_weight()
    assert set((q.value / q.scale).round().unique().tolist()) <= levels


def test_encoder_and_classifier_are_separate() -> None:
    net = build_model("tiny-w4a4", 1, 16, 10)
    features = net.encoder(torch.rand(2, 1, 16, 16))
    assert features.shape == (2, net.feature_dim)
    assert not any(n.startswith("classifier") for n, _ in net.encoder.named_parameters())


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown model 'cnv-big'.*tiny-w2a2"):
        build_model("cnv-big", 3, 32, 10)
    with pytest.raises(ValueError, match="unknown model 'huge-w2a2'"):
        build_model("huge-w2a2", 3, 32, 10)


@pytest.mark.parametrize("name", ["tiny-w3a2", "cnv-w2a3", "small-w16a16"])
def test_unsupported_bit_width_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="bit width .* is not supported"):
        build_model(name, 3, 32, 10)


def test_too_small_input_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="too small.*image-size"):
        build_model("cnv-w2a2", 3, 8, 10)
