"""The CNV family: FINN's BNN-PYNQ CNV topology with width and depth knobs.

Every member also has a float twin (`weight_bits = act_bits = None`): the same layers with
float weights and a hard-tanh in place of each quantized activation (the same [-1, 1] range),
and the same state-dict keys, so a float twin's weights can initialise the quantized network
(`tinyssl.models.float_init`). Float twins train fast and well as semi-supervised teachers;
they never go to the FPGA.

conv3x3 (no padding) → BN → quantized activation, max-pools between stages, then fully
connected layers, then the classifier. With the default layout and a 32×32 input this is
exactly FINN's CNV (64-64-P-128-128-P-256-256, FC 512-512). Other input sizes work: the
first FC layer takes the flattened map the conv stack leaves (FINN absorbs the flatten),
after extra 2×2 max-pools while it is wider than MAX_FLATTEN_SIDE. One max-pool over the
whole remaining window would be simpler, but the max of many {-1, 0, 1} activations is
almost always 1, so the network starts with a constant feature vector and barely learns.
A 2×2 pool that would leave too few pixels for the remaining convolutions is left out, so
28×28 inputs (MNIST) fit CNV too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn

from tinyssl.models.quant import ActQuant, InputQuant, WeightQuant, check_bits

#: Widest feature map flattened into the first FC layer (keeps its weight count bounded).
MAX_FLATTEN_SIDE = 4


@dataclass(frozen=True)
class CNVSpec:
    """Everything that defines one member of the family."""

    conv_channels: tuple[int, ...]
    pool_after: tuple[bool, ...]
    fc_features: tuple[int, ...]
    weight_bits: int | None  # None: float twin
    act_bits: int | None


def _act(bits: int | None) -> nn.Module:
    if bits is None:
        return nn.Hardtanh()  # the quantized activation's [-1, 1] range, unquantized
    return QuantIdentity(act_quant=ActQuant, bit_width=bits)


def _conv(in_ch: int, out_ch: int, bits: int | None) -> nn.Module:
    if bits is None:
        return nn.Conv2d(in_ch, out_ch, 3, bias=False)
    return QuantConv2d(in_ch, out_ch, 3, bias=False, weight_quant=WeightQuant,
                       weight_bit_width=bits)


def _linear(in_f: int, out_f: int, bits: int | None) -> nn.Module:
    if bits is None:
        return nn.Linear(in_f, out_f, bias=False)
    return QuantLinear(in_f, out_f, bias=False, weight_quant=WeightQuant, weight_bit_width=bits)


class QuantEncoder(nn.Module):
    """Input quantizer, conv stages, FC layers: all that goes to the FPGA but the classifier."""

    def __init__(self, spec: CNVSpec, in_channels: int, image_size: int) -> None:
        super().__init__()
        if spec.weight_bits is not None:
            check_bits("weight", spec.weight_bits)
        if spec.act_bits is not None:
            check_bits("activation", spec.act_bits)
        # the twin reads the same 8-bit input as its quantized members (the FPGA's input)
        self.input_quant = QuantIdentity(act_quant=InputQuant)
        layers: list[nn.Module] = []
        channels, size = in_channels, image_size
        for i, (out_ch, pool) in enumerate(zip(spec.conv_channels, spec.pool_after,
                                               strict=True)):
            size -= 2
            if size < 1:
                raise ValueError(
                    f"input {image_size}×{image_size} is too small for {len(spec.conv_channels)} "
                    "unpadded 3×3 convolutions; use a larger --image-size or a smaller preset."
                )
            layers += [
                _conv(channels, out_ch, spec.weight_bits),
                nn.BatchNorm2d(out_ch, eps=1e-4),
                _act(spec.act_bits),
            ]
            channels = out_ch
            remaining = len(spec.conv_channels) - 1 - i
            if pool and size // 2 - 2 * remaining >= 1:  # else skip it (e.g. CNV at 28×28)
                layers.append(nn.MaxPool2d(2))
                size //= 2
        while size > MAX_FLATTEN_SIDE:
            layers.append(nn.MaxPool2d(2))
            size //= 2
        self.features = nn.Sequential(*layers)
        fcs: list[nn.Module] = []
        width = channels * size * size
        for out_f in spec.fc_features:
            fcs += [
                _linear(width, out_f, spec.weight_bits),
                nn.BatchNorm1d(out_f, eps=1e-4),
                _act(spec.act_bits),
            ]
            width = out_f
        self.fc = nn.Sequential(*fcs)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float NCHW in [0, 1] (pixels / 255)."""
        x = self.input_quant(2.0 * x - 1.0)
        x = self.features(x)
        return self.fc(torch.flatten(x, 1))


class QuantClassifier(nn.Module):
    """Final quantized linear layer plus a per-class affine (FINN's CNV TensorNorm role)."""

    def __init__(self, in_features: int, num_classes: int, weight_bits: int | None) -> None:
        super().__init__()
        self.linear = _linear(in_features, num_classes, weight_bits)
        self.norm = nn.BatchNorm1d(num_classes, eps=1e-4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.linear(x))


def init_uniform(module: nn.Module) -> None:
    """BNN-PYNQ's initialisation: weights uniform in the quantizer's [-1, 1] range."""
    for m in module.modules():
        if isinstance(m, QuantConv2d | QuantLinear):
            nn.init.uniform_(m.weight, -1.0, 1.0)
