"""The training-time fast path (tinyssl.models.fast_quant) computes exactly what Brevitas does.

Tolerance everywhere: zero. Outputs, integer-valued activations and every gradient are
compared with torch.equal, for every bit width FINN maps and each CNV family (reduced width).
"""

from __future__ import annotations

import copy

import pytest
import torch
from brevitas.nn import QuantIdentity
from brevitas.quant import Int8ActPerTensorFloat

from tinyssl.models import build_model
from tinyssl.models.fast_quant import (
    disable_fast_quant,
    enable_fast_quant,
    train_fast,
    uses_fast_quant,
)

BITS = (1, 2, 4, 8)
#: (family, width, input channels): one-channel inputs too — a 1-channel NCHW tensor has
#: ambiguous strides, which once made the fast path pick another conv memory layout
FAMILIES = (("tiny", 0.5, 1), ("small", 0.25, 3), ("cnv", 0.125, 3))


def _pair(name: str, width: float, channels: int = 3) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    ref = build_model(name, channels, 32, 10, width)
    fast = copy.deepcopy(ref)
    assert enable_fast_quant(fast) is None and uses_fast_quant(fast)
    return ref, fast


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize(("family", "width", "channels"), FAMILIES)
def test_outputs_and_gradients_are_identical(family: str, width: float, channels: int,
                                             bits: int) -> None:
    ref, fast = _pair(f"{family}-w{bits}a{bits}", width, channels)
    # laid out as the trainer's batches are (images_to_device: NHWC permuted to NCHW)
    x = torch.rand(8, 32, 32, channels).permute(0, 3, 1, 2).contiguous()
    layouts: list[list] = [[], []]
    for net, seen in zip((ref, fast), layouts, strict=True):
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d | torch.nn.Linear | QuantIdentity):
                m.register_forward_hook(
                    lambda _m, _i, out, seen=seen: seen.append(out.stride()))
    for mode in ("train", "eval"):
        getattr(ref, mode)()
        getattr(fast, mode)()
        ya, yb = ref(x), fast(x)
        assert torch.equal(ya, yb), mode
        # same memory layouts, so the convolutions run the same algorithms
        assert layouts[0] == layouts[1], mode
        g = torch.randn_like(ya)
        ref.zero_grad()
        fast.zero_grad()
        ya.backward(g)
        yb.backward(g)
        for (name, p), q in zip(ref.named_parameters(), fast.parameters(), strict=True):
            assert torch.equal(p.grad, q.grad), f"{mode}: gradient of {name}"
    # BatchNorm statistics followed the same batches
    for (name, a), b in zip(ref.state_dict().items(), fast.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("bits", BITS)
def test_every_quantizer_on_ties_and_bounds(bits: int) -> None:
    """Each quantizer alone, on inputs at rounding ties (k + 0.5 steps), on and just past
    the clamp bounds, and at ±0: the integer codes, the values and the gradients agree."""
    ref, fast = _pair(f"tiny-w{bits}a{bits}", 0.5)
    steps = torch.arange(-300, 301, dtype=torch.float32) / 2  # every half step, ±150 steps
    for (name, a), b in zip(ref.named_modules(), fast.modules(), strict=True):
        if isinstance(a, QuantIdentity):
            scale = float(a.act_quant.scale())
            x = torch.cat([steps * scale, torch.tensor([0.0, -0.0, 1.0, -1.0, 1.5, -1.5])])
            xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
            ya, yb = a(xa), b(xb)
            assert torch.equal(ya, yb), name
            assert torch.equal(torch.round(ya / scale), torch.round(yb / scale)), name
            g = torch.linspace(-2, 2, len(x))
            ya.backward(g)
            yb.backward(g)
            assert torch.equal(xa.grad, xb.grad), name
            assert (xa.grad == 0).any(), name  # the clamp's mask was exercised
        elif hasattr(a, "quant_weight"):
            with torch.no_grad():
                scale = float(a.quant_weight().scale)
                w = steps[torch.randint(len(steps), a.weight.shape)] * scale
                a.weight.copy_(w)
                b.weight.copy_(w)
            assert torch.equal(a.quant_weight().value, b._tinyssl_fast_quant(b.weight)), name


def test_state_dict_keys_are_unchanged_and_disable_restores_brevitas() -> None:
    ref, fast = _pair("cnv-w2a2", 0.125)
    assert list(ref.state_dict()) == list(fast.state_dict())
    disable_fast_quant(fast)
    assert not uses_fast_quant(fast)
    assert "forward" not in fast.encoder.features[0].__dict__


def test_unsupported_quantizer_falls_back_with_one_note(capsys: pytest.CaptureFixture) -> None:
    """A learned-scale activation (statistics-initialised Int8) is not reproduced: the whole
    network stays on Brevitas, untouched, and one note says which layer and why."""
    torch.manual_seed(0)
    net = build_model("tiny-w2a2", 1, 16, 4, 0.5)
    net.encoder.features[2] = QuantIdentity(act_quant=Int8ActPerTensorFloat)
    before = copy.deepcopy(net)
    assert train_fast(net) is False
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("note: ") and "encoder.features.2" in err[0]
    assert not uses_fast_quant(net)
    x = torch.rand(4, 1, 16, 16)
    net.eval()
    before.eval()
    assert torch.equal(net(x), before(x))
    assert train_fast(net, enabled=False) is False and capsys.readouterr().err == ""
