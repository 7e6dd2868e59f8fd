"""The loop the resumable benchmark suites share (fit_suite.py, ssl_suite.py).

One JSON file per finished cell, committed; a cell that has one never reruns. A cell being
run holds an exclusive lock (`CELL.lock` beside the cell files), so the same `--suite`
command started once per core splits the cells between the processes instead of running
each twice. The locks are `flock`s: the kernel drops them when a process dies, so an
interrupted cell is free again at once, with no stale lock files to clean up by hand.

    python scripts/bench_fit.py --suite                 # every cell not yet done, in order
    python scripts/bench_fit.py --suite & python scripts/bench_fit.py --suite   # two cores
    python scripts/bench_ssl.py --suite --max-cells 1 --commit
    python scripts/bench_ssl.py --suite --cells pbc64-simclr-s1 --threads 2
    python scripts/bench_ssl.py --suite --report        # only rebuild the report
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import statistics
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from tinyssl.runs import atomic_write_json, atomic_write_text

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared of a clone


def mean_pm(values: list[float]) -> str:
    """Fractions as "mean ± sample std" in % ("–" for none; no ± for one value): the spread
    over seeds goes beside every mean."""
    if not values:
        return "–"
    sd = f" ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else ""
    return f"{100 * statistics.mean(values):.1f}{sd}"


def main(suite: ModuleType, argv: list[str] | None) -> None:
    """The `--suite` command line of a suite module: run every cell not yet done (or only
    `--cells`), then rebuild the report; `--commit` commits each finished cell with it.

    The module has `cells()` (tuples, in run order), `cell_name(*cell)`,
    `run_cell(*cell, runs)`, `report(finished cells) -> (markdown, rows)`, `summary(result)`
    (one line), `DATA` (the shared sets), `RUNS`, `CELLS` (cell files under
    OUT/CELLS/cells/) and `REPORT` (OUT/REPORT.md and .json)."""
    ap = argparse.ArgumentParser(description=(suite.__doc__ or "").split("\n\n")[0])
    ap.add_argument("--suite", action="store_true")
    ap.add_argument("--runs", type=Path, default=Path(suite.RUNS))
    ap.add_argument("--out", type=Path, default=Path("results"))
    ap.add_argument("--max-cells", type=int, default=None, help="stop after this many")
    ap.add_argument("--cells", nargs="+", help="only these cells (names as in the files)")
    ap.add_argument("--commit", action="store_true", help="git-commit each finished cell")
    ap.add_argument("--report", action="store_true", help="only rebuild the report")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--data-dir", type=Path, default=suite.DATA, help="the shared data sets")
    args = ap.parse_args(argv)
    suite.DATA = args.data_dir.resolve()  # where the shared sets are (e.g. a git worktree)
    if not args.report:
        import torch

        torch.set_num_threads(args.threads)
    cell_dir = args.out / suite.CELLS / "cells"
    report_files = [args.out / f"{suite.REPORT}.{ext}" for ext in ("md", "json")]
    todo = {suite.cell_name(*c): c for c in ([] if args.report else suite.cells())
            if not args.cells or suite.cell_name(*c) in args.cells}

    def finished(name: str, result: dict[str, Any]) -> None:
        write_report(suite, cell_dir, report_files)
        print(f"{name}: {suite.summary(result)}", flush=True)
        if args.commit:
            commit([cell_dir / f"{name}.json", *report_files],
                   f"{suite.REPORT}: cell {name} ({suite.summary(result)})",
                   cell_dir / "commit.lock")

    run_suite(list(todo), cell_dir, lambda name: suite.run_cell(*todo[name], args.runs),
              finished, args.max_cells)
    write_report(suite, cell_dir, report_files)
    print(report_files[0].read_text())


def write_report(suite: ModuleType, cell_dir: Path, files: list[Path]) -> None:
    """The suite's table (.md) and its rows and cells (.json) from every cell file, in the
    protocol's order; written atomically (several processes may finish cells at once)."""
    order = {suite.cell_name(*c): i for i, c in enumerate(suite.cells())}
    done = sorted((json.loads(p.read_text()) for p in cell_dir.glob("*.json")),
                  key=lambda r: (order.get(r["cell"], len(order)), r["cell"]))
    markdown, rows = suite.report(done)
    atomic_write_text(files[0], markdown)
    atomic_write_text(files[1], json.dumps({"rows": rows, "cells": done}, indent=2))


@contextmanager
def locked(path: Path, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (created if missing); yields False at once, without
    the lock, when `wait` is off and another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def commit(paths: list[Path], message: str, lock: Path) -> None:
    """git-commit exactly `paths`; one process at a time (two would race for git's index)."""
    with locked(lock):
        subprocess.run(["git", "add", *map(str, paths)], check=True)
        subprocess.run(["git", "commit", "-q", "-m", message, "--", *map(str, paths)],
                       check=True)


def run_suite(names: list[str], cell_dir: Path, run: Callable[[str], dict[str, Any]],
              finished: Callable[[str, dict[str, Any]], None],
              max_cells: int | None = None) -> int:
    """Run every cell of `names` (in order) that has no result yet and that no other process
    holds; `finished(name, result)` after each one's file is written. Returns how many ran."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    ran = 0
    for name in names:
        if max_cells is not None and ran >= max_cells:
            break
        result_file = cell_dir / f"{name}.json"
        if result_file.is_file():
            continue
        with locked(cell_dir / f"{name}.lock", wait=False) as mine:
            if not mine or result_file.is_file():  # another process has it, or just did it
                continue
            load = os.getloadavg()[0]
            result = run(name)
            # wall times are only comparable with the load they ran under (protocols)
            result["load_1min"] = {"start": load, "end": os.getloadavg()[0]}
            atomic_write_json(result_file, result)  # a half-written file would read as done
            (cell_dir / f"{name}.lock").unlink(missing_ok=True)
        ran += 1
        finished(name, result)
    return ran
