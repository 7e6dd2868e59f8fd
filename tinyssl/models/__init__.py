"""Model zoo: FINN-compilable quantized CNNs and float baselines.

The preset names (names.py) import at once; the networks, which need torch and Brevitas, on
first use (PEP 562), so that checking a command's options does not wait for torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from tinyssl.models.names import (
    SUPPORTED_BITS,
    available_models,
    check_image_size,
    check_model,
    family_of,
    is_float_twin,
    is_known_model,
    parse_quant_name,
)

_LAZY = {"Net": "tinyssl.models.net", "build_model": "tinyssl.models.registry",
         "ModelSpec": "tinyssl.models.spec", "load_net": "tinyssl.models.spec",
         "model_spec_dict": "tinyssl.models.spec"}

__all__ = ["SUPPORTED_BITS", "ModelSpec", "Net", "available_models", "build_model",
           "check_image_size", "check_model", "family_of", "is_float_twin", "is_known_model",
           "load_net", "model_spec_dict", "parse_quant_name"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tinyssl.models' has no attribute '{name}'")
