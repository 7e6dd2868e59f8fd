"""Training methods, one file each, looked up by name (lightly/solo-learn layout)."""

from __future__ import annotations

from importlib import import_module

from tinyssl.methods.base import Batch, Method, StepOutput

#: name → "module:Class". Semi-supervised methods first, then self-supervised pretext tasks.
METHODS: dict[str, str] = {
    "supervised": "tinyssl.methods.supervised:Supervised",
    "uda": "tinyssl.methods.uda:UDA",
    "fixmatch": "tinyssl.methods.fixmatch:FixMatch",
    "flexmatch": "tinyssl.methods.flexmatch:FlexMatch",
    "freematch": "tinyssl.methods.freematch:FreeMatch",
    "distill": "tinyssl.methods.distill:Distill",
    "pseudolabel": "tinyssl.methods.pseudolabel:PseudoLabel",
    "simclr": "tinyssl.methods.simclr:SimCLR",
    "rotation": "tinyssl.methods.rotation:Rotation",
    "byol": "tinyssl.methods.byol:BYOL",
    "simsiam": "tinyssl.methods.simsiam:SimSiam",
    "jigsaw": "tinyssl.methods.jigsaw:Jigsaw",
    "autoencoder": "tinyssl.methods.autoencoder:Autoencoder",
}


def get_method(name: str) -> type[Method]:
    """The Method class for `name`; unknown names get the list of known ones."""
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}'; choose from {', '.join(METHODS)}.")
    module, cls = METHODS[name].split(":")
    return getattr(import_module(module), cls)


__all__ = ["METHODS", "Batch", "Method", "StepOutput", "get_method"]
