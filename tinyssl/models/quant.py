"""Brevitas quantizers that FINN compiles.

These are the quantizers of FINN's BNN-PYNQ CNV examples (brevitas_examples.bnn_pynq):
constant per-tensor scales, narrow signed integers, bipolar at 1 bit. They are copied here
rather than imported because brevitas_examples is an example package, not a stable API, and
because these exact choices are what keeps every model streamlinable into FINN thresholds.
"""

from __future__ import annotations

from brevitas.core.bit_width import BitWidthImplType
from brevitas.core.quant import QuantType
from brevitas.core.restrict_val import FloatToIntImplType, RestrictValueType
from brevitas.core.scaling import ScalingImplType
from brevitas.core.zero_point import ZeroZeroPoint
from brevitas.inject import ExtendedInjector
from brevitas.quant.solver import ActQuantSolver, WeightQuantSolver
from dependencies import value

from tinyssl.models.names import check_bits

__all__ = ["ActQuant", "InputQuant", "WeightQuant", "check_bits"]


class CommonQuant(ExtendedInjector):
    bit_width_impl_type = BitWidthImplType.CONST
    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.FP
    zero_point_impl = ZeroZeroPoint
    float_to_int_impl_type = FloatToIntImplType.ROUND
    scaling_per_output_channel = False
    narrow_range = True
    signed = True

    @value
    def quant_type(bit_width):  # noqa: N805 - dependency-injection signature
        if bit_width is None:
            return QuantType.FP
        if bit_width == 1:
            return QuantType.BINARY
        return QuantType.INT


class WeightQuant(CommonQuant, WeightQuantSolver):
    """Weights in [-1, 1]: bipolar at 1 bit, narrow signed integers above."""

    scaling_const = 1.0


class ActQuant(CommonQuant, ActQuantSolver):
    """Activations in [-1, 1]: FINN turns BN + this quantizer into a MultiThreshold."""

    min_val = -1.0
    max_val = 1.0


class InputQuant(ActQuant):
    """8-bit Q1.7 input: pixels p/255 are mapped to 2p/255 - 1 before this quantizer."""

    bit_width = 8
    min_val = -1.0
    max_val = 1.0 - 2.0**-7
    narrow_range = False
    restrict_scaling_type = RestrictValueType.POWER_OF_TWO
