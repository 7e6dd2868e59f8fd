"""Bit-accurate verification: the same images through every representation of a run."""

from tinyssl.verify.chain import verify_run

__all__ = ["verify_run"]
