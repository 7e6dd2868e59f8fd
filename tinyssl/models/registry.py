"""Named model presets (timm-style registry): `cnv-w2a2`, `tiny-w4a4`, `resnet18`, …

Quantized names are `<family>-w<W>a<A>` with W, A in {1, 2, 4, 8}; `<family>-float` is the
float twin of a family (same layers, float weights and activations: a fast teacher and the
initialisation of its quantized members); `--width-mult` scales every layer of a family. The
names themselves (and their parsing) live in names.py, which needs no torch.
"""

from __future__ import annotations

from torch import nn

from tinyssl.models.baselines import resnet18, wrn28_2
from tinyssl.models.cnv import CNVSpec, QuantClassifier, QuantEncoder, init_uniform
from tinyssl.models.names import (
    FAMILIES,
    FLOAT_MODEL_NAMES,
    available_models,
    family_of,
    parse_quant_name,
)
from tinyssl.models.net import Net

FLOAT_MODELS = {"resnet18": resnet18, "wrn-28-2": wrn28_2}
assert tuple(FLOAT_MODELS) == FLOAT_MODEL_NAMES


def build_model(name: str, in_channels: int, image_size: int, num_classes: int,
                width_mult: float = 1.0) -> Net:
    """Build a preset for the data it will see. Unknown names get the list of known ones."""
    if name in FLOAT_MODELS:
        encoder = FLOAT_MODELS[name](in_channels)
        dim = encoder.out_features
        return Net(encoder, nn.Linear(dim, num_classes), dim, quantized=False)
    family = family_of(name)
    if family is None:
        raise ValueError(
            f"unknown model '{name}'; choose from {', '.join(available_models())} "
            "(any <family>-w<W>a<A> with W, A in 1, 2, 4, 8)."
        )
    parsed = parse_quant_name(name)
    wbits, abits = (parsed[1], parsed[2]) if parsed else (None, None)
    convs, pools, fcs = FAMILIES[family]

    def scale(c: int) -> int:
        return max(1, round(c * width_mult))

    spec = CNVSpec(tuple(map(scale, convs)), pools, tuple(map(scale, fcs)), wbits, abits)
    encoder = QuantEncoder(spec, in_channels, image_size)
    classifier = QuantClassifier(encoder.out_features, num_classes, wbits)
    net = Net(encoder, classifier, encoder.out_features, quantized=parsed is not None)
    if parsed is not None:
        init_uniform(net)
    return net
