"""The self-supervised comparison runner (scripts/ssl_suite.py): the protocol's cells,
resuming from committed cell results without rerunning them, the report against the floor,
and real (tiny) cells on digits: a pretext on the default float-twin route, and direct
SimCLR."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import ssl_suite  # noqa: E402


def test_the_cells_are_the_protocols() -> None:
    cells = ssl_suite.cells()
    assert len(cells) == 110 and len(set(cells)) == 110  # 4 × 14 × 2, no colour from grey
    assert cells[:14] == [("pbc64", e, 0) for e in ssl_suite.ENCODERS]  # pbc64 seed 0 first
    assert cells[0][1] == "random-init" and ("malaria-gray50", "colorization", 0) not in cells
    assert {e for _, e, _ in cells} == {"random-init", "simclr-direct", *ssl_suite.PRETEXTS}
    assert len(ssl_suite.PRETEXTS) == 12
    options = ssl_suite.pretrain_options("aid30", "simclr-direct", 1)
    assert options["method"] == "simclr" and options["steps"] == 200 and options["seed"] == 1
    assert options["method_options"] == {"flip": True}
    # kNN never votes over every labelled image (malaria: 20 labels → k 10)
    assert [ssl_suite.knn_k(n) for n in (20, 50, 80, 300, 1)] == [10, 20, 20, 20, 1]


def _cell(encoder: str, seed: int, linear: float, knn: float) -> dict:
    return {"cell": ssl_suite.cell_name("pbc64", encoder, seed), "data": "pbc64",
            "encoder": encoder, "seed": seed, "labels_used": 80, "linear_acc": linear,
            "knn_acc": knn, "pretrain_s": 0.0 if encoder == "random-init" else 300.0,
            "warnings": []}


def test_finished_cells_are_never_rerun_and_the_report_compares_with_the_floor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = tmp_path / "ssl" / "cells"
    cells.mkdir(parents=True)
    for r in (_cell("random-init", 0, 0.22, 0.24), _cell("random-init", 1, 0.24, 0.26),
              _cell("simclr", 0, 0.34, 0.36), _cell("simclr", 1, 0.30, 0.34),
              _cell("context", 0, 0.27, 0.20)):
        (cells / f"{r['cell']}.json").write_text(json.dumps(r))

    def no_training(*args: object) -> None:
        raise AssertionError("a finished cell was rerun")

    monkeypatch.setattr(ssl_suite, "run_cell", no_training)
    ssl_suite.main(["--suite", "--out", str(tmp_path), "--cells", "pbc64-simclr-s0",
                    "pbc64-random-init-s1"])
    rows = {r["encoder"]: r for r in json.loads((tmp_path / "ssl-suite.json").read_text())[
        "rows"]}
    assert rows["simclr"]["seeds"] == [0, 1]
    assert rows["simclr"]["linear_acc"] == pytest.approx(0.32)
    assert rows["simclr"]["beats_floor"] is True  # 32/35 vs the floor's 23/25
    assert rows["context"]["beats_floor"] is False  # its kNN 20 is under seed 0's floor 24
    assert rows["random-init"]["beats_floor"] is None
    text = (tmp_path / "ssl-suite.md").read_text()
    assert "5 of 110 cells finished" in text
    assert "| pbc64 | simclr | 0,1 | 80 | 32.0 ± 2.8 | 35.0 ± 1.4 | 300 | yes |" in text
    assert "| pbc64 | context | 0 | 80 | 27.0 | 20.0 | 300 | **no** |" in text
    # the summary table: points above the floor's mean, and on how many sets it beats it
    assert "| random-init | 23.0 / 25.0 | – | – | – | – |" in text
    assert "| simclr | +9.0 / +10.0 | – | – | – | 1 of 1 |" in text
    assert "| context | +4.0 / -5.0 | – | – | – | 0 of 1 |" in text


def test_cells_take_the_default_float_twin_route_or_the_direct_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    monkeypatch.setitem(ssl_suite.SETS, "digits", "digits")
    monkeypatch.setattr(ssl_suite, "STEPS", 5)
    monkeypatch.setattr(ssl_suite, "BATCH", 16)
    monkeypatch.setattr(ssl_suite, "EVAL_EVERY", 5)
    monkeypatch.setattr(ssl_suite, "IMAGE_SIZE", 16)
    r = ssl_suite.run_cell("digits", "rotation", 0, tmp_path)
    assert r["labels_used"] == 100 and r["cell"] == "digits-rotation-s0" and r["k"] == 20
    assert r["steps"] == [5, 1] and len(r["runs"]) == 2  # the twin, then 1 quantized step
    assert 0.1 < r["linear_acc"] <= 1 and 0 < r["knn_acc"] <= 1 and r["pretrain_s"] > 0
    direct = ssl_suite.run_cell("digits", "simclr-direct", 0, tmp_path)
    assert direct["steps"] == [5] and len(direct["runs"]) == 1  # quantized from scratch
