"""Sweeps: grid expansion, stable cell names, claims that keep workers apart."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tinyssl.pipeline.sweep import SweepConfig, _claim, cell_id


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def test_grid_expands_to_every_combination(tmp_path: Path) -> None:
    cfg = SweepConfig.load(_write(tmp_path, """
name: t
base: {data: digits}
grid: {method: [supervised, uda], seed: [0, 1, 2]}
"""))
    assert len(cfg.cells) == 6
    assert {c["method"] for c in cfg.cells} == {"supervised", "uda"}
    ids = {cell_id(c, cfg.base) for c in cfg.cells}
    assert len(ids) == 6
    assert cell_id(cfg.cells[0], cfg.base) == cell_id(dict(cfg.cells[0]), dict(cfg.base))
    assert cell_id(cfg.cells[0], cfg.base) != cell_id(cfg.cells[0], {"data": "npz:x"})


@pytest.mark.parametrize("text, match", [
    ("grid: {seed: []}", "non-empty list"),
    ("grids: {seed: [1]}", "unknown sweep option"),
])
def test_bad_sweep_configs_are_refused(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SweepConfig.load(_write(tmp_path, text))


def test_claims_exclude_live_workers_and_free_dead_ones(tmp_path: Path) -> None:
    cell = tmp_path / "cell"
    assert _claim(cell, stale_after_s=3600)
    # held by this (live) process: nobody else may take it
    assert not _claim(cell, stale_after_s=3600)
    # held by a process that has exited: taken over at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (cell / "claim").write_text(f"{socket.gethostname()}:{dead}:0")
    assert _claim(cell, stale_after_s=3600)
    assert (cell / "claim").read_text().startswith(f"{socket.gethostname()}:{os.getpid()}")
    # held by another host: waits until the cell has been idle for stale_after_s
    (cell / "claim").write_text("elsewhere:1:0")
    assert not _claim(cell, stale_after_s=3600)
    assert _claim(cell, stale_after_s=-1)


def test_explicit_runs_are_crossed_with_the_grid(tmp_path: Path) -> None:
    cfg = SweepConfig.load(_write(tmp_path, """
runs: [{method: supervised, labels: 100}, {method: uda, labels: 20}]
grid: {seed: [0, 1]}
"""))
    assert cfg.cells == [{"method": "supervised", "labels": 100, "seed": 0},
                         {"method": "supervised", "labels": 100, "seed": 1},
                         {"method": "uda", "labels": 20, "seed": 0},
                         {"method": "uda", "labels": 20, "seed": 1}]
