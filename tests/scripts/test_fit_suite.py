"""The fit suite runner (scripts/fit_suite.py): the cells of the protocol, resuming from
committed cell results without rerunning them, and the report's columns."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import fit_suite  # noqa: E402


def test_the_cells_are_the_protocols() -> None:
    cells = fit_suite.cells()
    assert len(cells) == 24 and len(set(cells)) == 24
    assert cells[:6] == [(s, 10, 0) for s in fit_suite.SETS]  # 10 per class first
    low = {(s, k) for s, k, _ in cells if k != 10}
    assert low == {(s, k) for s in fit_suite.LOW_BUDGET_SETS for k in (1, 4)}
    assert set(fit_suite.SETS) == {"cifar10-jpeg", "pbc64", "malaria-gray50", "aid30",
                                   "flowers5", "mnist5k"}
    options = fit_suite.fit_options("pbc64", 4, 1)
    assert set(options) == {"data", "image_size", "labels_per_class", "model", "seed",
                            "hardware", "progress", "device"}  # the default fit, no knob set


def _cell(data: str, k: int, seed: int, sup: float, stu: float, ceil: float) -> dict:
    return {"cell": fit_suite.cell_name(data, k, seed), "data": data, "labels_per_class": k,
            "seed": seed, "labels_used": 8 * k, "supervised": sup, "teacher": stu + 0.02,
            "student": stu, "ceiling": ceil, "decisions": ["student lr 0.1 (…)."],
            "fit_wall_s": 1200.0, "ceiling_train_s": 120.0}


def test_finished_cells_are_never_rerun_and_the_report_has_the_columns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = tmp_path / "fit-suite" / "cells"
    cells.mkdir(parents=True)
    for seed, (sup, stu) in enumerate([(0.50, 0.62), (0.52, 0.66)]):
        (cells / f"{fit_suite.cell_name('pbc64', 10, seed)}.json").write_text(
            json.dumps(_cell("pbc64", 10, seed, sup, stu, 0.75)))

    def no_training(*args: object) -> None:
        raise AssertionError("a finished cell was rerun")

    monkeypatch.setattr(fit_suite, "run_cell", no_training)
    fit_suite.main(["--suite", "--out", str(tmp_path), "--cells", "pbc64-10pc-s0",
                    "pbc64-10pc-s1"])
    report = json.loads((tmp_path / "fit-suite.json").read_text())
    [row] = report["rows"]
    assert row["seeds"] == [0, 1] and row["labels_used"] == 80
    assert row["supervised"] == pytest.approx(0.51) and row["student"] == pytest.approx(0.64)
    assert row["gap_closed"] == pytest.approx(0.13 / 0.24)
    assert row["done"] is True  # +13 points, 54 % of the gap
    text = (tmp_path / "fit-suite.md").read_text()
    assert "2 of 24 cells finished" in text
    assert ("| pbc64 | 10 | 0,1 | 80 | 51.0 ± 1.4 | 66.0 ± 2.8 | **64.0 ± 2.8** | 75.0 ± 0.0 "
            "| 54 % | 22 | yes |") in text
