"""A sweep of two tiny runs on digits: completes, survives a kill mid-way without redoing
finished runs, and its report has the expected tables and plots."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tinyssl.pipeline.sweep import SweepConfig, cell_id, collect_rows

SWEEP = {
    "name": "e2e",
    "base": {"data": "digits", "image_size": 16, "model": "tiny-w2a2", "width_mult": 0.5,
             "labels_per_class": 3, "val_per_class": 5, "batch_size": 16, "eval_every": 10,
             "progress": False, "seed": 0},
    "runs": [{"method": "supervised", "steps": 30}, {"method": "uda", "steps": 400}],
    "grid": {"seed": [0]},
}


def _run_dir(cell_dir: Path) -> list[Path]:
    return [p for p in cell_dir.iterdir() if p.is_dir()] if cell_dir.is_dir() else []


def test_sweep_resumes_after_kill_and_reports(tmp_path: Path) -> None:
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(SWEEP))
    root = tmp_path / "out"
    cfg = SweepConfig.load(config)
    first, second = (root / "cells" / cell_id(c, cfg.base) for c in cfg.cells)
    cmd = [sys.executable, "-m", "tinyssl.cli", "sweep", str(config), "--out", str(root)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 300
    # kill once the first run is finished and the second has written a checkpoint
    while time.time() < deadline:
        runs = _run_dir(second)
        if runs and (runs[0] / "checkpoints" / "last.pt").is_file():
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (done_run,) = _run_dir(first)
    finished_at = (done_run / "summary.json").stat().st_mtime_ns
    (killed_run,) = _run_dir(second)
    assert not (killed_run / "summary.json").exists()

    # resume with two worker processes: one takes the interrupted cell, neither redoes the first
    res = subprocess.run([*cmd, "--workers", "2"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    # nothing redone, the interrupted run resumed in place
    assert _run_dir(first) == [done_run]
    assert (done_run / "summary.json").stat().st_mtime_ns == finished_at
    assert _run_dir(second) == [killed_run]
    assert (killed_run / "summary.json").is_file()
    rows = collect_rows(config, root)
    assert [r["method"] for r in rows] == ["supervised", "uda"]
    assert all(0 <= r["test_acc"] <= 1 for r in rows)
    assert (root / "results.csv").read_text().count("\n") == 3
    report = (root / "report.md").read_text()
    assert "| digits | uda | tiny-w2a2 | 30 | 1 |" in report
    assert (root / "training_curves.png").is_file()
    assert "tinyssl results" in res.stdout
