"""The CIFAR-10 benchmark's cell planner: every row planned, resumable, finished cells kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import bench_cifar10 as bench  # noqa: E402

SEED_ROWS = {"sup-all", "sup-4000", "uda-4000", "uda-2000", "uda-4000-growth",
             "uda-2000-growth", "fit-4000", "fit-2000", "fit-250", "fit-40"}


def _fake_cifar(root: Path, train_per_class: int = 20, test_per_class: int = 3) -> Path:
    """A CIFAR-style image folder: 10 classes of 8×8 RGB PNGs, train/ and test/."""
    rng = np.random.default_rng(0)
    for part, n in (("train", train_per_class), ("test", test_per_class)):
        for c in range(10):
            (root / part / f"class{c}").mkdir(parents=True)
            for i in range(n):
                img = np.full((8, 8, 3), 20 * c, np.uint8) + rng.integers(0, 30, (8, 8, 3),
                                                                          dtype=np.uint8)
                Image.fromarray(img).save(root / part / f"class{c}" / f"{i}.png")
    return root


def _fake_run(kind: str, opts: dict, run: Path) -> None:
    """Stands in for training: writes what a finished cell leaves (a fit or a run)."""
    run.mkdir(parents=True, exist_ok=True)
    split = {"labeled": np.arange(4), "val": np.arange(4, 6), "unlabeled": np.arange(6, 9)}
    stages = ["baseline", "teacher", "student"] if kind == "fit" else [None]
    for stage in stages:
        d = run / stage if stage else run
        d.mkdir(exist_ok=True)
        np.savez(d / "split.npz", **split)
        (d / "config.yaml").write_text(yaml.safe_dump({"steps": opts["steps"]}))
        (d / "summary.json").write_text(json.dumps({"test_acc": 0.5}))
    if kind == "fit":
        (run / "fit.json").write_text(json.dumps({"labels_used": 6, "stages": [
            {"stage": s, "test_acc": 0.4 + 0.1 * i, "steps": opts["steps"]}
            for i, s in enumerate(stages)]}))


def test_every_row_of_the_seed_table_is_planned_per_preset_and_seed() -> None:
    cells = bench.plan(list(bench.ROWS), ["tiny-w2a2", "small-w2a2"], [0, 1], done=set())
    assert {c.row for c in cells} == SEED_ROWS
    assert len(cells) == len(SEED_ROWS) * 2 * 2
    assert len({c.name for c in cells}) == len(cells)
    with pytest.raises(SystemExit, match="unknown row"):
        bench.plan(["uda-9999"], ["tiny-w2a2"], [0], done=set())


def test_cells_resume_after_an_interruption_and_finished_cells_are_not_rerun(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--seeds", "0",
            "--steps", "7", "--threads", "1"]
    calls: list[str] = []
    resumed: list[str] = []  # cells that found their run directory from before
    interrupt = [True]

    def interrupted(kind: str, opts: dict, run: Path) -> None:
        calls.append(run.name)
        if run.exists():
            resumed.append(run.name)
        if len(calls) == 3 and interrupt and interrupt.pop():  # the third cell, once
            run.mkdir(parents=True)
            raise KeyboardInterrupt
        _fake_run(kind, opts, run)

    monkeypatch.setattr(bench, "execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bench.main(argv)
    saved = json.loads((tmp_path / "out" / "cifar10.json").read_text())["cells"]
    assert sorted(saved) == sorted(calls[:2])  # each finished cell recorded at once
    calls.clear()
    bench.main(argv)
    assert not set(calls) & set(saved)  # finished cells were not rerun
    assert len(calls) == len(SEED_ROWS) - 2  # the interrupted one ran again, then the rest
    assert resumed == ["uda-4000.tiny-w2a2-s0"]  # in its own directory, from its checkpoint
    cells = json.loads((tmp_path / "out" / "cifar10.json").read_text())["cells"]
    assert set(cells) == {f"{r}.tiny-w2a2-s0" for r in SEED_ROWS}
    assert all(c["steps"] == 7 and c["labels_used"] == 6 for c in cells.values())
    table = (tmp_path / "out" / "cifar10.md").read_text()
    assert "| tiny-w2a2 | fit-40 | 1 | 6 | 40.0 | 50.0 | **60.0** |" in table
    assert "FreeMatch" in table and "89.03" in table  # the anchors


def test_real_cells_count_every_label_they_touch(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYSSL_CACHE", str(tmp_path / "cache"))
    data = _fake_cifar(tmp_path / "cifar")
    monkeypatch.setattr(bench, "ROWS", {"sup-all": bench.ROWS["sup-all"],
                                        "fit-40": ("fit", {"labels": 40})})
    bench.main(["--data", f"folder:{data}", "--image-size", "16", "--steps", "2",
                "--trial-steps", "2", "--seeds",
                "0", "--threads", "1", "--runs", str(tmp_path / "runs"),
                "--out", str(tmp_path / "out")])
    cells = json.loads((tmp_path / "out" / "cifar10.json").read_text())["cells"]
    assert cells["sup-all.tiny-w2a2-s0"]["labels_used"] == 200  # every training image
    fit = cells["fit-40.tiny-w2a2-s0"]
    assert fit["labels_used"] == 40  # the honest budget: fit validates on none beyond them
    assert 0.0 <= fit["test_acc"] <= 1.0 and fit["supervised_acc"] is not None


def test_the_table_keeps_rows_that_this_invocation_did_not_run() -> None:
    cells = {"sup-all.tiny-w2a2-s0": {"test_acc": 0.5, "labels_used": 9, "wall_s": 60.0},
             "fit-40.tiny-w2a2-s0": {"test_acc": 0.4, "supervised_acc": 0.3, "teacher_acc": 0.45,
                                     "labels_used": 40, "wall_s": 60.0}}
    table = bench.markdown(cells, bench.parse_args(["--rows", "fit-40", "--presets", "small-w2a2"]))
    assert "| tiny-w2a2 | sup-all | 1 | 9 |" in table
    assert "| small-w2a2 | fit-40 | 0 | | | | not run yet | | |" in table
    assert "| tiny-w2a2 | fit-40 | 1 | 40 | 30.0 | 45.0 | **40.0** | 50 % |" in table
