"""Bit-accurate verification: the same images through every representation of a run."""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_IMAGES", "verify_run"]

#: Test images pushed through every stage by default.
DEFAULT_IMAGES = 200


def __getattr__(name: str) -> Any:
    """Imported on first use (PEP 562), so `tinyssl verify --help` starts without torch."""
    if name == "verify_run":
        from tinyssl.verify.chain import verify_run

        return verify_run
    raise AttributeError(f"module 'tinyssl.verify' has no attribute '{name}'")
