"""A training-time fast path for the Brevitas layers of the CNV family (same numbers, less Python).

Why it exists: our quantizers (`tinyssl.models.quant`) have constant scales, so each one is a
few tensor operations — divide, round, clamp, multiply. Brevitas wraps them in proxies,
dependency-injected quantizer modules and a QuantTensor per call; at the CNV family's sizes
that bookkeeping, not arithmetic, is where a quantized training step's time went
(`results/train_speed.md`). `enable_fast_quant(net)` replaces the `forward` of each Brevitas
layer in `net` by the same float operations in the same order — one autograd node per
quantizer instead of Brevitas's chain of straight-through functions — with the scales and
integer ranges read from the layer itself, so outputs and gradients are bit-identical
(`tests/models/test_fast_quant.py`).

Nothing else changes: the modules, their parameters and their state-dict keys stay Brevitas's,
so checkpoints load either way, and export, FINN and verify always rebuild the network from
its spec and run Brevitas itself — it stays the source of truth. A layer whose quantizer is not
one reproduced here exactly (anything but constant-scale, zero-point-free, bias-free
quantizers without input/output quantization) keeps the whole network on Brevitas, with one
note saying why.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass

import torch
from brevitas.core.function_wrapper import Identity, RoundSte, TensorClamp, TensorClampSte
from brevitas.core.quant import BinaryQuant, ClampedBinaryQuant, RescalingIntQuant
from brevitas.core.scaling import ConstScaling
from brevitas.core.zero_point import ZeroZeroPoint
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn
from torch.nn import functional as F  # noqa: N812

_FAST = "_tinyssl_fast_quant"  # attribute marking a layer whose forward was replaced


class _FakeQuantFn(torch.autograd.Function):
    """Brevitas's quantizer chain as one autograd node: fewer passes over the activations and
    one boolean mask saved instead of Brevitas's intermediate tensors. Each value is computed
    by the same float operations in the same order as Brevitas, so the results are identical:

    integer: `round(x / s)` clamped to [lo, hi], times s (IntQuant: `round_ste`, then
      `tensor_clamp` for activations or `tensor_clamp_ste` for weights). Gradient: g·s, zero
      where the rounded value lay outside [lo, hi] (activations only), then / s — the order
      Brevitas's autograd graph multiplies and divides in.
    binary: sign(x) × s with sign(0) = +1 (`binary_sign_ste`); activations first clamp x to
      [-s, s] (ClampedBinaryQuant), which masks the gradient where |x| > s. Gradient: g·s.

    Where s is exactly 1 (2-bit and binary presets) the multiplication by s and the
    gradient's g·s / s are skipped: they change no value. Brevitas's `± zero_point` steps
    (zero here) are left out for the same reason (adding 0.0 changes at most a zero's sign).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, q: FakeQuant) -> torch.Tensor:
        one = q.scale == 1.0
        if q.binary:
            mask = (x.abs() <= q.scale) if q.mask_grad else None
            y = torch.where(x >= 0, q.scale, -q.scale).to(x.dtype)
        else:
            # out of place, as in Brevitas (also where s = 1): torch.round picks the memory
            # layout of its result, and the next convolution's algorithm follows that layout
            y = torch.round(x / q.scale)
            mask = (y >= q.lo) & (y <= q.hi) if q.mask_grad else None
            y.clamp_(q.lo, q.hi)
            if not one:
                y.mul_(q.scale)
        # the gradient is g·s (masked), and / s again where the forward divided by s
        ctx.scale, ctx.one, ctx.divide = q.scale, one, not (one or q.binary)
        ctx.save_for_backward(mask)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        (mask,) = ctx.saved_tensors
        if not ctx.one:
            g = g * ctx.scale
        if mask is not None:
            g = torch.where(mask, g, 0.0)
        if ctx.divide:
            g = g.div_(ctx.scale)
        return g, None


@dataclass(frozen=True)
class FakeQuant:
    """One constant-scale quantizer (see _FakeQuantFn): `binary` (sign × scale) or integers
    in [lo, hi] × scale; `mask_grad`: the clamp blocks gradients outside the range, as
    Brevitas's activation quantizers do (its weight quantizers pass them straight through)."""

    scale: float
    binary: bool
    mask_grad: bool
    lo: float = 0.0
    hi: float = 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _FakeQuantFn.apply(x, self)


class Unsupported(ValueError):
    """A Brevitas layer the fast path does not reproduce exactly."""


def _fake_quant(tensor_quant: nn.Module, scale: torch.Tensor, what: str) -> FakeQuant:
    """The FakeQuant equal to `tensor_quant` (Brevitas's tensor quantizer), or Unsupported."""
    scale = float(scale)  # a float32 value: exact as a Python float
    binary = isinstance(tensor_quant, BinaryQuant | ClampedBinaryQuant)
    if not binary and not isinstance(tensor_quant, RescalingIntQuant):
        raise Unsupported(f"{what}: quantizer {type(tensor_quant).__name__}")
    delay = tensor_quant.delay_wrapper if binary else tensor_quant.int_quant.delay_wrapper
    if not isinstance(tensor_quant.scaling_impl, ConstScaling) or \
            type(delay.delay_impl).__name__ != "_NoDelay":
        raise Unsupported(f"{what}: quantizer with a learned scale or a quantization delay")
    if binary:
        clamped = isinstance(tensor_quant, ClampedBinaryQuant)
        if clamped and type(tensor_quant.tensor_clamp_impl) is not TensorClamp:
            raise Unsupported(f"{what}: binary quantizer with an unknown clamp")
        return FakeQuant(scale, binary=True, mask_grad=clamped)
    iq = tensor_quant.int_quant
    if not (isinstance(tensor_quant.zero_point_impl, ZeroZeroPoint)
            and type(iq.float_to_int_impl) is RoundSte
            and type(iq.tensor_clamp_impl) in (TensorClamp, TensorClampSte)
            and isinstance(iq.input_view_impl, Identity)):
        raise Unsupported(f"{what}: integer quantizer with a zero point or another rounding")
    bit_width = tensor_quant.msb_clamp_bit_width_impl()
    lo, hi = iq.min_int(bit_width), iq.max_int(bit_width)
    return FakeQuant(scale, binary=False, mask_grad=type(iq.tensor_clamp_impl) is TensorClamp,
                     lo=float(lo), hi=float(hi))


def _weight_layer(layer: QuantConv2d | QuantLinear, name: str) -> FakeQuant:
    if layer.bias is not None or layer.input_quant.is_quant_enabled or \
            layer.output_quant.is_quant_enabled or layer.return_quant_tensor:
        raise Unsupported(f"{name}: bias, input/output quantizer or quant-tensor output")
    if isinstance(layer, QuantConv2d) and (layer.padding_mode != "zeros"
                                           or layer.is_same_padded_strided):
        raise Unsupported(f"{name}: padding mode")
    with torch.no_grad():
        scale = layer.quant_weight().scale
    return _fake_quant(layer.weight_quant.tensor_quant, scale, name)


def _act_layer(layer: QuantIdentity, name: str) -> FakeQuant:
    proxy = layer.act_quant
    activation = proxy.fused_activation_quant_proxy.activation_impl
    if layer.input_quant.is_quant_enabled or layer.return_quant_tensor or \
            not proxy.is_quant_enabled or not isinstance(activation, Identity | nn.Identity):
        raise Unsupported(f"{name}: input quantizer, activation or quant-tensor output")
    with torch.no_grad():
        scale = proxy.scale()
    return _fake_quant(proxy.fused_activation_quant_proxy.tensor_quant, scale, name)


def _conv_forward(self: QuantConv2d, x: torch.Tensor) -> torch.Tensor:
    w = getattr(self, _FAST)(self.weight)
    return F.conv2d(x, w, None, self.stride, self.padding, self.dilation, self.groups)


def _linear_forward(self: QuantLinear, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, getattr(self, _FAST)(self.weight))


def _identity_forward(self: QuantIdentity, x: torch.Tensor) -> torch.Tensor:
    return getattr(self, _FAST)(x)


_PLANS: tuple[tuple[type, Callable, Callable], ...] = (
    (QuantConv2d, _weight_layer, _conv_forward),
    (QuantLinear, _weight_layer, _linear_forward),
    (QuantIdentity, _act_layer, _identity_forward),
)


def enable_fast_quant(net: nn.Module) -> str | None:
    """Give every Brevitas layer of `net` the fast forward. Returns None when done (or when
    there is nothing to do), else the one-sentence reason the network stays on Brevitas —
    then nothing was changed. Call it after the weights are loaded and the network is on its
    device (the scales are read and placed once)."""
    plan: list[tuple[nn.Module, FakeQuant, Callable]] = []
    for name, m in net.named_modules():
        if not m.__class__.__module__.startswith("brevitas.nn"):
            continue
        for cls, read, forward in _PLANS:
            if type(m) is cls:
                try:
                    fq = read(m, name)
                except Unsupported as e:
                    return f"Brevitas layer {e}"
                plan.append((m, fq, forward))
                break
        else:
            return f"Brevitas layer {name}: {type(m).__name__} has no fast path"
    for m, fq, forward in plan:
        object.__setattr__(m, _FAST, fq)
        # an instance attribute: deepcopy (EMA) rebinds it to the copy, state_dict ignores it
        m.forward = types.MethodType(forward, m)
    return None


def disable_fast_quant(net: nn.Module) -> None:
    """Back to Brevitas's own forward for every layer (e.g. before export)."""
    for m in net.modules():
        if _FAST in m.__dict__:
            del m.__dict__[_FAST]
            del m.__dict__["forward"]


def uses_fast_quant(net: nn.Module) -> bool:
    return any(_FAST in m.__dict__ for m in net.modules())



def train_fast(net: nn.Module, enabled: bool = True) -> bool:
    """The trainer's one call (train/callbacks/fast_quant.py; `fast_quant` option,
    `--no-fast-quant` to opt out): the fast path if `net` allows it, else Brevitas with one
    note on stderr. Returns whether it is on."""
    if not enabled:
        return False
    reason = enable_fast_quant(net)
    if reason is not None:
        print(f"note: training on Brevitas's own layers (slower, same result): {reason}.",
              file=sys.stderr)
    return reason is None
