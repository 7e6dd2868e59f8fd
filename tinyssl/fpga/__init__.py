"""FINN dataflow builds of exported runs: estimates everywhere, bitstreams with Vivado."""

from tinyssl.fpga.boards import Board, known_boards, resolve_board
from tinyssl.fpga.build import build_run

__all__ = ["Board", "build_run", "known_boards", "resolve_board"]
