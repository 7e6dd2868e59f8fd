"""Board and part definitions (hw/boards.yaml): FINN's name, the part, and its capacities."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

BOARDS_FILE = Path(__file__).resolve().parents[2] / "hw" / "boards.yaml"
RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")


@dataclass(frozen=True)
class Board:
    """Where the accelerator goes. `finn_board` is None for a bare part (no shell/driver)."""

    name: str
    part: str
    finn_board: str | None
    capacity: dict[str, int] | None  # None: part not in hw/boards.yaml, fit unknown


@cache
def _table() -> dict:
    return yaml.safe_load(BOARDS_FILE.read_text())


def known_boards() -> list[str]:
    return list(_table()["boards"])


def resolve_board(name: str) -> Board:
    """A board name from hw/boards.yaml (case-insensitive) or any Xilinx part number."""
    table = _table()
    for board, info in table["boards"].items():
        if board.lower() == name.lower():
            return Board(board, info["part"], info["finn_board"], table["parts"].get(info["part"]))
    if name.lower().startswith("xc"):
        return Board(name, name, None, table["parts"].get(name))
    raise ValueError(f"unknown board '{name}'; use one of {', '.join(known_boards())} or an "
                     "FPGA part number such as xc7z020clg400-1.")
