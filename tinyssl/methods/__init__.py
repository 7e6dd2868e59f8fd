"""Training methods, one file each, looked up by name (lightly/solo-learn layout).

The names import at once and the methods (torch) on first use, so that a command checks its
method names before paying for torch."""

from __future__ import annotations

import inspect
import typing
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyssl.methods.base import Method


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
    "colorization": "tinyssl.methods.colorization:Colorization",
    "inpainting": "tinyssl.methods.inpainting:Inpainting",
    "exemplar": "tinyssl.methods.exemplar:Exemplar",
    "selflabel": "tinyssl.methods.selflabel:SelfLabel",
    "context": "tinyssl.methods.context:Context",
    "infomax": "tinyssl.methods.infomax:InfoMax",
}


def get_method(name: str) -> type[Method]:
    """The Method class for `name`; unknown names get the list of known ones."""
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}'; choose from {', '.join(METHODS)}.")
    module, cls = METHODS[name].split(":")
    return getattr(import_module(module), cls)


def method_options(name: str) -> dict[str, tuple[Any, Any]]:
    """option → (type annotation, default) that method `name` accepts: the keyword parameters
    of every `__init__` along its class hierarchy (each passes the rest to its parent)."""
    options: dict[str, tuple[Any, Any]] = {}
    for cls in get_method(name).__mro__:
        init = cls.__dict__.get("__init__")
        if init is None or not cls.__module__.startswith("tinyssl."):
            continue
        hints = typing.get_type_hints(init)
        for p in inspect.signature(init).parameters.values():
            if (p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD) and \
                    p.default is not p.empty and p.name not in options:
                options[p.name] = (hints.get(p.name, Any), p.default)
    return options


__all__ = ["METHODS", "Batch", "Method", "StepOutput", "get_method", "method_options"]


def __getattr__(name: str) -> Any:
    """Batch, Method, StepOutput from base.py, imported on first use (PEP 562)."""
    if name in ("Batch", "Method", "StepOutput"):
        return getattr(import_module("tinyssl.methods.base"), name)
    raise AttributeError(f"module 'tinyssl.methods' has no attribute '{name}'")
