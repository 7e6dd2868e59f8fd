"""`tinyssl sweep --ray` on a local Ray instance: two tiny digits cells and one that fails.
The cells land in the built-in scheduler's directories with its results, a failed cell is
reported by name while the others finish, a rerun redoes nothing finished, and an address
where no Ray answers is one sentence."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from tinyssl.cli import main
from tinyssl.pipeline.sweep import SweepConfig, cell_id, collect_rows, run_sweep

SWEEP = {
    "name": "ray",
    "base": {"data": "digits", "image_size": 16, "model": "tiny-w2a2", "width_mult": 0.5,
             "method": "supervised", "labels_per_class": 3, "val_per_class": 5,
             "batch_size": 16, "steps": 10, "eval_every": 10, "progress": False},
    "grid": {"seed": [0, 1]},
    "ray": {"num_cpus": 1},
}


def _sweep(tmp_path: Path, name: str, sweep: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def test_sweep_on_local_ray_matches_the_builtin_scheduler(tmp_path: Path) -> None:
    # two more cells diverge (lr 1e30: NaN loss by step 3), a failure no check can see
    # before training (a bad option or label budget is refused before any cell runs)
    good = _sweep(tmp_path, "good", SWEEP)
    config = _sweep(tmp_path, "mixed", {**SWEEP, "runs": [{}, {"lr": 1e30}]})
    root = tmp_path / "on-ray"
    res = CliRunner().invoke(main, ["sweep", str(config), "--out", str(root), "--ray"])
    cfg = SweepConfig.load(config)
    failing = cell_id(cfg.cells[2], cfg.base)
    assert res.exit_code == 1, res.output
    assert f"cell {failing} failed: TrainingDiverged:" in res.output
    assert "2 of 4 cells failed" in res.output
    rows = collect_rows(config, root)
    assert [r["seed"] for r in rows] == [0, 1]
    assert (root / "results.csv").read_text().count("\n") == 3
    # the built-in scheduler on the good cells: same cell directories, same accuracies
    run_sweep(good, tmp_path / "builtin")
    builtin = collect_rows(good, tmp_path / "builtin")
    assert [r["cell"] for r in builtin] == [r["cell"] for r in rows]
    assert [r["test_acc"] for r in builtin] == [r["test_acc"] for r in rows]
    # a rerun redoes nothing finished (summary.json untouched); it starts no Ray for that
    summaries = [Path(r["run"]) / "summary.json" for r in rows]
    before = [p.stat().st_mtime_ns for p in summaries]
    res = CliRunner().invoke(main, ["sweep", str(good), "--out", str(root), "--ray"])
    assert res.exit_code == 0, res.output
    assert [p.stat().st_mtime_ns for p in summaries] == before
    assert collect_rows(good, root) == rows


def test_sweep_ray_address_that_does_not_answer_is_one_sentence(tmp_path: Path) -> None:
    config = _sweep(tmp_path, "s", SWEEP)
    res = CliRunner().invoke(main, ["sweep", str(config), "--out", str(tmp_path / "o"),
                                    "--ray", "127.0.0.1:9"])
    assert res.exit_code == 2
    assert "Error: the Ray cluster at 127.0.0.1:9 does not answer" in res.output
    assert not (tmp_path / "o").exists()  # nothing half-written
    res = CliRunner().invoke(main, ["sweep", str(config), "--ray", "--workers", "2"])
    assert res.exit_code == 2 and "--workers is for the built-in scheduler" in res.output
