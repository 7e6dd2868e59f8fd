"""The fit suite (issue 24): the default `tinyssl fit` on every shared data set, written down
before it is run (results/fit-suite-protocol.md, version 2; version 1's cells are in
results/fit-suite/cells-v1/).

Each cell is one (data set, labels per class, seed): the default fit (`tinyssl fit --data D
--image-size 32 --labels-per-class K --seed S`, export/FINN off) and, once per data set and
seed, the all-labels ceiling (supervised tiny-w2a2 on every training label, the fit's
baseline schedule). A finished cell writes results/fit-suite/cells/CELL.json, which is
committed; a rerun never repeats a cell that has one, so the suite resumes across sessions.
Run it with `python scripts/bench_fit.py --suite` (options and parallel runs:
scripts/suite_runner.py).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import suite_runner
from suite_runner import locked, mean_pm

RUNS = "runs/fit-suite"  # run directories (--runs)
CELLS = "fit-suite"  # results/CELLS/cells/*.json
REPORT = "fit-suite"  # results/REPORT.md and .json
DATA = suite_runner.SHARED_DATA  # --data-dir replaces it
SETS = {"cifar10-jpeg": "folder:{}/cifar10-jpeg.tgz", "pbc64": "folder:{}/pbc64.tgz",
        "malaria-gray50": "folder:{}/malaria-gray50.tgz", "aid30": "folder:{}/aid30.tgz",
        "flowers5": "folder:{}/flowers5.tgz", "mnist5k": "npz:{}/mnist5k.npz"}
#: 1 and 4 labels per class on these three (cheap per step, and one each of cells, grey
#: cells and natural images)
LOW_BUDGET_SETS = ("pbc64", "malaria-gray50", "flowers5")
SEEDS = (0, 1)
IMAGE_SIZE = 32
MODEL = "tiny-w2a2"


def cells() -> list[tuple[str, int, int]]:
    """Every (set, labels per class, seed), in the order they run: 10 per class first."""
    out = [(s, 10, seed) for seed in SEEDS for s in SETS]
    out += [(s, k, seed) for seed in SEEDS for k in (4, 1) for s in LOW_BUDGET_SETS]
    return out


def cell_name(data: str, k: int, seed: int) -> str:
    return f"{data}-{k}pc-s{seed}"


def data_source(data: str) -> str:
    return SETS[data].format(DATA)



def fit_options(data: str, k: int, seed: int) -> dict[str, Any]:
    """The default fit: nothing but data, size, budget and seed (the protocol)."""
    return {"data": data_source(data), "image_size": IMAGE_SIZE, "labels_per_class": k,
            "model": MODEL, "seed": seed, "hardware": False, "progress": False, "device": "cpu"}


def run_ceiling(data: str, seed: int, steps: int, root: Path) -> dict[str, Any]:
    """Supervised on every training label, the fit's baseline schedule (resumable). The
    cells of one set and seed share it: a second process waits for the first to train it."""
    from tinyssl.runs import read_json

    run = root / f"ceiling-{data}-s{seed}"
    with locked(root / f"{run.name}.lock"):
        if not (run / "summary.json").is_file():
            _train_ceiling(data, seed, steps, run)
    return read_json(run / "summary.json")


def _train_ceiling(data: str, seed: int, steps: int, run: Path) -> None:
    from tinyssl.config import load_config
    from tinyssl.pipeline import run_training

    cfg = load_config(None, {"data": data_source(data), "image_size": IMAGE_SIZE,
                             "model": MODEL, "method": "supervised", "steps": steps,
                             "batch_size": 32, "val_per_class": 0, "seed": seed,
                             "eval_every": max(25, steps // 20), "progress": False,
                             "device": "cpu", "name": run.name})
    if not (run / "config.yaml").is_file():
        run.mkdir(parents=True)
        cfg.save(run / "config.yaml")
    run_training(cfg, run.parent, resume=run)


def run_cell(data: str, k: int, seed: int, root: Path) -> dict[str, Any]:
    from tinyssl.pipeline.fit import FIT_FILE, FitConfig, save_fit_config, start_fit

    fit_dir = root / cell_name(data, k, seed)
    started = time.perf_counter()
    if not (fit_dir / "fit.json").is_file():
        cfg = FitConfig.load(None, fit_options(data, k, seed))
        if not (fit_dir / FIT_FILE).is_file():
            save_fit_config(cfg, fit_dir)
        start_fit(cfg, root, resume=fit_dir, echo=print)
    fit = json.loads((fit_dir / "fit.json").read_text())
    stages = {s["stage"]: s for s in fit["stages"]}
    ceiling_started = time.perf_counter()
    ceiling = run_ceiling(data, seed, stages["baseline"]["steps"], root)
    return {"cell": cell_name(data, k, seed), "data": data, "labels_per_class": k,
            "seed": seed, "labels_used": fit["labels_used"],
            "supervised": stages["baseline"]["test_acc"], "teacher": stages["teacher"]["test_acc"],
            "student": stages["student"]["test_acc"], "ceiling": ceiling["test_acc"],
            "student_steps": stages["student"]["steps"],
            "student_stopped_early_at": stages["student"].get("stopped_early_at"),
            "decisions": fit["decisions"]["log"], "choices": fit["decisions"]["choices"],
            "warnings": fit["warnings"], "fit_wall_s": fit["wall_s"],
            "ceiling_train_s": ceiling["train_time_s"],
            "session_wall_s": time.perf_counter() - started,
            "ceiling_session_s": time.perf_counter() - ceiling_started}


def gap_closed(r: dict[str, float]) -> float | None:
    gap = r["ceiling"] - r["supervised"]
    return None if gap <= 0 else (r["student"] - r["supervised"]) / gap


def report(done: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """fit-suite.md and its rows from the finished cells (in run order): means over seeds."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in done:
        groups.setdefault((r["data"], r["labels_per_class"]), []).append(r)
    rows = []
    for (data, k), rs in groups.items():
        mean = {c: statistics.mean(r[c] for r in rs)
                for c in ("supervised", "teacher", "student", "ceiling", "labels_used")}
        g = gap_closed(mean)
        rows.append({"data": data, "labels_per_class": k, "seeds": [r["seed"] for r in rs],
                     **mean, "gap_closed": g, "per_seed": {
                         c: [r[c] for r in rs]
                         for c in ("supervised", "teacher", "student", "ceiling")},
                     "wall_min": statistics.mean(
                         (r["fit_wall_s"] + r["ceiling_train_s"]) / 60 for r in rs),
                     "done": (mean["ceiling"] - mean["supervised"] < 0.10) or (
                         mean["student"] - mean["supervised"] >= 0.05
                         and g is not None and g >= 0.5)})
    lines = ["# fit suite: the default `tinyssl fit` on every shared data set", "",
             "Protocol: `results/fit-suite-protocol.md`, version 2 (committed before any of "
             "its cells ran; version 1's recipe: `results/fit-suite-v1.md`). "
             "Test accuracy %, mean ± std over the seeds, tiny-w2a2 student at 32 px; labels "
             "used counts every labelled image the fit touched (training and validation). Gap "
             "closed: (student − supervised) / (ceiling − supervised) of the means. Done: the "
             "issue's criterion (ceiling < 10 points above supervised, or student ≥ 5 points "
             "above supervised and ≥ half the gap).", "",
             f"{len(done)} of {len(cells())} cells finished.", "",
             "| data | labels/class | seeds | labels used | supervised | teacher | student "
             "| all-labels ceiling | gap closed | wall min (fit + ceiling) | done |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        gap = "–" if r["gap_closed"] is None else f"{100 * r['gap_closed']:.0f} %"
        lines.append(
            f"| {r['data']} | {r['labels_per_class']} | {','.join(map(str, r['seeds']))} "
            f"| {r['labels_used']:.0f} | {mean_pm(r['per_seed']['supervised'])} "
            f"| {mean_pm(r['per_seed']['teacher'])} "
            f"| **{mean_pm(r['per_seed']['student'])}** | {mean_pm(r['per_seed']['ceiling'])} "
            f"| {gap} "
            f"| {r['wall_min']:.0f} | {'yes' if r['done'] else '**no**'} |")
    lines += ["", "Per cell: what fit decided.", ""]
    for r in done:
        lines.append(f"- {r['cell']} ({r['fit_wall_s'] / 60:.0f} min): "
                     + " ".join(r["decisions"]))
    return "\n".join(lines) + "\n", rows


def summary(r: dict[str, Any]) -> str:
    """One line of a finished cell (printed, and the commit message)."""
    return f"student {100 * r['student']:.1f} %, supervised {100 * r['supervised']:.1f} %"


def main(argv: list[str] | None = None) -> None:
    suite_runner.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
