"""Reports from run directories: tables aggregate seeds correctly and every plot is written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tinyssl.report import write_report
from tinyssl.report.tables import find_runs, group_runs


def _fake_run(root: Path, method: str, labels: int, seed: int, acc: float, model: str,
              lut: float | None = None) -> Path:
    run = root / f"{method}-{labels}-{model}-{seed}"
    run.mkdir(parents=True)
    summary = {"method": method, "data": "digits", "model": model, "labels": labels,
               "seed": seed, "test_acc": acc, "test_macro_f1": acc - 0.01,
               "classes": ["a", "b"], "confusion_matrix": [[5, 1], [2, 7]]}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "metrics.jsonl").write_text("\n".join(
        json.dumps({"step": s, "loss": 2.0 / (s + 1), "val_acc": acc * s / 100})
        for s in range(0, 101, 20)))
    if lut is not None:
        (run / "fpga").mkdir()
        (run / "fpga" / "report.json").write_text(json.dumps(
            {"totals": {"LUT": lut, "BRAM_18K": 4, "DSP": 0, "URAM": 0}, "est_fps": 1e4}))
    return run


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    for method, base in (("supervised", 0.5), ("uda", 0.7)):
        for labels in (20, 50):
            for seed in (0, 1):
                _fake_run(tmp_path, method, labels, seed, base + labels / 1000 + seed / 100,
                          "tiny-w2a2", lut=1000.0 + labels)
    for bits in (1, 4):
        _fake_run(tmp_path, "uda", 50, 0, 0.6 + bits / 100, f"tiny-w{bits}a{bits}")
    pl = _fake_run(tmp_path, "uda+pl", 20, 0, 0.8, "tiny-w2a2")
    (pl / "pseudolabels.jsonl").write_text(
        json.dumps({"step": 10, "added": [3, 4], "wrong": [1, 0]}) + "\n"
        + json.dumps({"step": 20, "added": [2, 2], "wrong": [0, 1]}))
    return tmp_path


def test_groups_average_over_seeds(runs: Path) -> None:
    groups = {g.key: g for g in group_runs(find_runs(runs))}
    g = groups[("digits", "uda", "tiny-w2a2", 20)]
    mean, std = g.stat("test_acc")
    assert len(g.runs) == 2
    assert mean == pytest.approx(np.mean([0.72, 0.73]))
    assert std == pytest.approx(0.005)


def test_report_has_tables_and_plots(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    md = write_report(runs, out).read_text()
    assert "| digits | uda | tiny-w2a2 | 20 | 2 | 72.5 ± 0.5 |" in md
    for png in ("label_efficiency.png", "accuracy_vs_bits.png", "pareto.png",
                "training_curves.png"):
        assert (out / png).stat().st_size > 1000, png
        assert f"]({png})" in md
    assert list(out.glob("confusion-*.png"))
    assert list(out.glob("pseudolabels-*.png"))
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7
    assert {r["method"] for r in rows} == {"supervised", "uda", "uda+pl"}


def test_report_includes_transfer_matrix(runs: Path, tmp_path: Path) -> None:
    study = runs / "transfer"
    study.mkdir()
    (study / "transfer_matrix.csv").write_text("pretrain,digits,mnist\nnone,0.5,0.6\nsimclr,0.7,\n")
    md = write_report(runs, tmp_path / "r").read_text()
    assert "Transfer matrix" in md
    assert (tmp_path / "r" / "transfer-0.png").is_file()


def test_report_on_missing_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        write_report(tmp_path / "nope")


def test_report_warns_near_chance_and_below_the_supervised_baseline(tmp_path: Path) -> None:
    for method, acc in (("supervised", 0.80), ("fixmatch", 0.70), ("uda", 0.55)):
        run = _fake_run(tmp_path, method, 20, 0, acc, "tiny-w2a2")
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "chance_acc": 0.5}))
    text = write_report(tmp_path).read_text()
    section = text.split("## Warnings", 1)[1].split("##", 1)[0]
    assert "fixmatch" in section and "below the supervised baseline's 80.0 %" in section
    assert "uda" in section and "near chance (50.0 %)" in section
    assert "supervised · tiny-w2a2" not in section  # the baseline itself is fine
