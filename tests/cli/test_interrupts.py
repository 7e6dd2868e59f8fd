"""Ctrl-C: exit code 130 and the command that carries on, never click's bare "Aborted!"
(exit 1) or a traceback; during select's encoder training, the hint is to run select again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tinyssl.cli import main
from tinyssl.cli.errors import clean_errors


def test_ctrl_c_outside_a_training_loop_exits_130_with_a_rerun_hint() -> None:
    @click.group()
    def tinyssl() -> None:
        pass

    @tinyssl.command("predict")
    @clean_errors
    def predict() -> None:
        raise KeyboardInterrupt

    result = CliRunner().invoke(tinyssl, ["predict"])
    assert result.exit_code == 130
    assert "interrupted (Ctrl-C). Run `tinyssl predict …` again" in result.output
    assert "Aborted!" not in result.output


def test_ctrl_c_during_selects_encoder_training_exits_130_saying_rerun_select(
        tmp_path: Path) -> None:
    """SIGINT once the encoder's training loop runs (its TensorBoard events file exists):
    a checkpoint is saved, exit 130, and the hint is `tinyssl select` again, not `train`."""
    env = {**os.environ, "TINYSSL_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                          os.environ.get("PYTHONPATH", "")])}
    code = "import sys; from tinyssl.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "select", "digits", "--budget", "5", "--encoder-steps",
         "100000", "--threads", "1", "--device", "cpu", "--out", str(tmp_path / "sel.csv")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 600  # waits for the loop however loaded the machine is
        while not list((tmp_path / "cache").glob("encoders/*/*/events.out.tfevents.*")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "checkpoint saved. Run the same `tinyssl select` command again" in err
    assert "Traceback" not in err and "Aborted!" not in err
    assert list((tmp_path / "cache").glob("encoders/*/*/checkpoints/last.pt"))
    assert not (tmp_path / "sel.csv").exists()


def test_ctrl_c_in_a_sweep_cell_says_continue_the_sweep(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The cell's own hint (`train --resume CELL_RUN`) would finish that cell alone."""
    import tinyssl.pipeline.sweep as sweep
    from tinyssl.train import TrainingInterrupted

    def interrupted(config: Path, root: Path, workers: int) -> None:
        raise TrainingInterrupted(root / "cells" / "c" / "run", 3)

    monkeypatch.setattr(sweep, "run_sweep_workers", interrupted)
    config = tmp_path / "grid.yaml"
    config.write_text("name: grid\nbase: {data: digits, steps: 2}\ngrid: {seed: [0]}\n")
    result = CliRunner().invoke(main, ["sweep", str(config), "--runs", str(tmp_path)])
    assert result.exit_code == 130, result.output
    assert (f"interrupted at step 3; checkpoint saved. Continue the sweep with `tinyssl sweep "
            f"{config} --out {tmp_path / 'grid'}`.") in result.output
