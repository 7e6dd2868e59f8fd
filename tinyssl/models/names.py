"""Model preset names and the bit widths FINN maps, without torch: the CLI checks a
`--model`, `--teacher-model` or `w3a2` typo in a fraction of a second (registry.py builds
the networks these names describe).

Quantized names are `<family>-w<W>a<A>` with W, A in {1, 2, 4, 8}; `<family>-float` is the
float twin of a family; `resnet18` and `wrn-28-2` are float baselines.
"""

from __future__ import annotations

import re

#: family → (conv channels, pool after each conv, FC widths). `cnv` is FINN's CNV.
FAMILIES: dict[str, tuple[tuple[int, ...], tuple[bool, ...], tuple[int, ...]]] = {
    "cnv": ((64, 64, 128, 128, 256, 256), (False, True, False, True, False, False), (512, 512)),
    "small": ((32, 32, 64, 64, 128, 128), (False, True, False, True, False, False), (256,)),
    "tiny": ((16, 16, 32, 32), (False, True, False, True), (64,)),
}
FLOAT_MODEL_NAMES = ("resnet18", "wrn-28-2")
#: Weight and activation widths FINN's layers map (1 = bipolar).
SUPPORTED_BITS = (1, 2, 4, 8)
_QUANT_NAME = re.compile(r"^(?P<family>[a-z]+)-w(?P<w>\d+)a(?P<a>\d+)$")
_TWIN_NAME = re.compile(r"^(?P<family>[a-z]+)-float$")


def available_models() -> list[str]:
    quant = [f"{f}-w{b}a{b}" for f in FAMILIES for b in SUPPORTED_BITS]
    twins = [f"{f}-float" for f in FAMILIES]
    return sorted(quant) + sorted(twins) + sorted(FLOAT_MODEL_NAMES)


def parse_quant_name(name: str) -> tuple[str, int, int] | None:
    """`cnv-w2a2` → ("cnv", 2, 2); None for names outside the quantized families."""
    m = _QUANT_NAME.match(name)
    if not m or m["family"] not in FAMILIES:
        return None
    return m["family"], int(m["w"]), int(m["a"])


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
    return name in FLOAT_MODEL_NAMES or family_of(name) is not None


def check_bits(kind: str, bits: int) -> int:
    """Refuse bit widths FINN cannot map, with one clear sentence."""
    if bits not in SUPPORTED_BITS:
        raise ValueError(
            f"{kind} bit width {bits} is not supported: FINN maps "
            f"{', '.join(map(str, SUPPORTED_BITS))} (1 = bipolar)."
        )
    return bits


def check_model(name: str, what: str = "model") -> None:
    """A known preset with bit widths FINN maps, or one sentence listing the presets."""
    parsed = parse_quant_name(name)
    if not is_known_model(name):
        raise ValueError(f"unknown {what} '{name}'; choose from {', '.join(available_models())} "
                         "(any <family>-w<W>a<A> with W, A in 1, 2, 4, 8).")
    if parsed is not None:
        check_bits("weight", parsed[1])
        check_bits("activation", parsed[2])


def check_image_size(model: str, image_size: int | None) -> None:
    """A CNV-family preset convolves 3×3 without padding: each conv takes 2 pixels off the
    side (cnv.py skips the poolings that would not fit), so it needs 2 × convs + 1."""
    family = family_of(model)
    if image_size is None or family is None:
        return
    need = 2 * len(FAMILIES[family][0]) + 1
    if image_size < need:
        raise ValueError(f"image_size {image_size} is too small for {model}: its "
                         f"{len(FAMILIES[family][0])} unpadded 3×3 convolutions need at least "
                         f"{need} pixels a side.")
