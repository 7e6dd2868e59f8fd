"""Model zoo: FINN-compilable quantized CNNs and float baselines."""

from tinyssl.models.net import Net
from tinyssl.models.quant import SUPPORTED_BITS
from tinyssl.models.registry import (
    available_models,
    build_model,
    family_of,
    is_float_twin,
    is_known_model,
    parse_quant_name,
)
from tinyssl.models.spec import ModelSpec, load_net, model_spec_dict

__all__ = ["ModelSpec", "Net", "SUPPORTED_BITS", "available_models", "build_model", "family_of",
           "is_float_twin", "is_known_model", "load_net", "model_spec_dict", "parse_quant_name"]
