"""Named model presets (timm-style registry): `cnv-w2a2`, `tiny-w4a4`, `resnet18`, …

Quantized names are `<family>-w<W>a<A>` with W, A in {1, 2, 4, 8}; `<family>-float` is the
float twin of a family (same layers, float weights and activations: a fast teacher and the
initialisation of its quantized members); `--width-mult` scales every layer of a family.
"""

from __future__ import annotations

import re

from torch import nn

from tinyssl.models.baselines import resnet18, wrn28_2
from tinyssl.models.cnv import CNVSpec, QuantClassifier, QuantEncoder, init_uniform
from tinyssl.models.net import Net

#: family → (conv channels, pool after each conv, FC widths). `cnv` is FINN's CNV.
FAMILIES: dict[str, tuple[tuple[int, ...], tuple[bool, ...], tuple[int, ...]]] = {
    "cnv": ((64, 64, 128, 128, 256, 256), (False, True, False, True, False, False), (512, 512)),
    "small": ((32, 32, 64, 64, 128, 128), (False, True, False, True, False, False), (256,)),
    "tiny": ((16, 16, 32, 32), (False, True, False, True), (64,)),
}
FLOAT_MODELS = {"resnet18": resnet18, "wrn-28-2": wrn28_2}
_QUANT_NAME = re.compile(r"^(?P<family>[a-z]+)-w(?P<w>\d+)a(?P<a>\d+)$")
_TWIN_NAME = re.compile(r"^(?P<family>[a-z]+)-float$")


def available_models() -> list[str]:
    quant = [f"{f}-w{b}a{b}" for f in FAMILIES for b in (1, 2, 4, 8)]
    twins = [f"{f}-float" for f in FAMILIES]
    return sorted(quant) + sorted(twins) + sorted(FLOAT_MODELS)


def family_of(name: str) -> str | None:
    """`tiny-w2a2` and `tiny-float` → "tiny"; None outside the CNV families."""
    parsed = parse_quant_name(name)
    if parsed is not None:
        return parsed[0]
    m = _TWIN_NAME.match(name)
    return m["family"] if m and m["family"] in FAMILIES else None


def is_float_twin(name: str) -> bool:
    return family_of(name) is not None and parse_quant_name(name) is None


def is_known_model(name: str) -> bool:
    return name in FLOAT_MODELS or family_of(name) is not None


def parse_quant_name(name: str) -> tuple[str, int, int] | None:
    """`cnv-w2a2` → ("cnv", 2, 2); None for names outside the quantized families."""
    m = _QUANT_NAME.match(name)
    if not m or m["family"] not in FAMILIES:
        return None
    return m["family"], int(m["w"]), int(m["a"])


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
