"""The FINN build's options checked before anything runs (no FINN, no torch): the board, the
throughput target, the clock and a folding file. `fpga build`, `fit` and `sweep` call this
first, so a typo in `--board` is refused in a second instead of after training."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tinyssl.fpga.boards import Board, resolve_board

#: The options `build_run` takes from a sweep's `fpga:` mapping.
BUILD_OPTIONS = ("board", "target_fps", "clock_ns", "folding")


def check_build_options(board: str, target_fps: float, clock_ns: float = 10.0,
                        folding: Path | str | None = None) -> Board:
    """The resolved board, or one sentence naming the option that cannot be built."""
    if not (isinstance(target_fps, int | float) and math.isfinite(target_fps)
            and target_fps > 0):
        raise ValueError(f"target_fps must be a positive number of images per second (got "
                         f"{target_fps}).")
    if not (isinstance(clock_ns, int | float) and math.isfinite(clock_ns) and clock_ns > 0):
        raise ValueError(f"clock_ns must be a positive clock period in ns (got {clock_ns}).")
    if folding is not None:
        read_folding(Path(folding))
    return resolve_board(str(board))


def max_fps(clock_ns: float) -> float:
    """No FINN dataflow accelerator finishes more than one image per clock cycle."""
    return 1e9 / clock_ns


def read_folding(path: Path) -> dict[str, dict[str, Any]]:
    """A FINN folding file: JSON, a mapping of layer name (or "Defaults") → attributes. One
    sentence when it is not, instead of FINN's traceback from inside the build."""
    if not path.is_file():
        raise ValueError(f"folding config {path} does not exist.")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"folding config {path} is not valid JSON (line {e.lineno}: {e.msg}); "
                         "FINN reads folding files as JSON, e.g. hw/folding/*.json.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"folding config {path} cannot be read as text ({e}).") from None
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise ValueError(f"folding config {path} must map each layer name (and \"Defaults\") "
                         'to its attributes, e.g. {"MVAU_hls_0": {"PE": 4, "SIMD": 8}}.')
    return config


def unknown_folding_layers(config: dict[str, Any], layers: list[str]) -> list[str]:
    """Layer names of a folding file that the built model does not have (FINN ignores them
    silently, so the folding the user asked for would not be applied)."""
    return sorted(set(config) - {"Defaults"} - set(layers))
