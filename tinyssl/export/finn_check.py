"""Refuse networks FINN cannot compile before spending minutes in its flow.

FINN maps quantized conv/linear layers (1-8 bit weights), batch norms that fold into
thresholds, quantized activations up to 8 bits (1 = bipolar) and max-pooling. Anything else
(a float layer, an average pool, a residual add) stops streamlining deep inside FINN with a
message that does not name the PyTorch layer, so we check here and name it.
"""

from __future__ import annotations

from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn

from tinyssl.models import Net

#: Leaf layers the streamlined FINN graph is made of.
_ALLOWED = (QuantConv2d, QuantLinear, QuantIdentity, nn.BatchNorm1d, nn.BatchNorm2d,
            nn.MaxPool2d, nn.Flatten, nn.Identity)
MAX_BITS = 8


class UnsupportedModelError(ValueError):
    """The network cannot go to FINN; the message names the layer and the reason."""


def _bits(layer: nn.Module) -> int:
    if isinstance(layer, QuantIdentity):
        return int(layer.act_quant.bit_width())
    return int(layer.weight_quant.bit_width())


def check_finn_compatible(net: Net) -> None:
    """Raise UnsupportedModelError naming the first layer FINN cannot take."""
    if not getattr(net, "quantized", False):
        raise UnsupportedModelError(
            "this is a float model (e.g. resnet18 / wrn-28-2): FINN compiles only quantized "
            "networks; train a cnv-/small-/tiny-wWaA preset to deploy on an FPGA."
        )
    for part in ("encoder", "classifier"):
        _check(getattr(net, part), part)


def _check(module: nn.Module, prefix: str) -> None:
    for name, child in module.named_children():
        path = f"{prefix}.{name}"
        if isinstance(child, _ALLOWED):
            if isinstance(child, QuantConv2d | QuantLinear | QuantIdentity):
                bits = _bits(child)
                if not 1 <= bits <= MAX_BITS:
                    raise UnsupportedModelError(
                        f"layer {path} ({type(child).__name__}) uses {bits}-bit quantization; "
                        f"FINN supports 1 to {MAX_BITS} bits."
                    )
            if isinstance(child, QuantConv2d | QuantLinear) and child.bias is not None:
                raise UnsupportedModelError(
                    f"layer {path} ({type(child).__name__}) has a float bias; FINN needs it "
                    "folded into the following batch norm (bias=False)."
                )
        elif list(child.children()) and not isinstance(child, nn.Conv2d | nn.Linear):
            _check(child, path)
        else:
            raise UnsupportedModelError(
                f"layer {path} ({type(child).__name__}) has no FINN hardware mapping; use "
                "quantized conv/linear, batch norm, quantized activations and max-pooling only."
            )
