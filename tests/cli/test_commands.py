"""The command line as a new user meets it: instant help, plain progress in logs, resume
messages, clean refusals, and a `kill -9` that loses at most the checkpoint interval."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tinyssl.cli import COMMANDS, main

TINY = ["--data", "digits", "--image-size", "16", "--labels-per-class", "5", "--device", "cpu"]


def _tinyssl(*args: str, **kwargs) -> subprocess.Popen:  # noqa: ANN003
    code = "import sys; from tinyssl.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_command_listing_matches_the_commands() -> None:
    for name, (module, attr, short) in COMMANDS.items():
        command = getattr(importlib.import_module(module), attr)
        assert command.name == name
        assert command.get_short_help_str(limit=1000) == short, name


def test_help_and_data_info_start_without_torch() -> None:
    probe = ("import sys; from tinyssl.cli import main\n"
             "for args in (['--help'], ['train', '--help'], ['fit', '--help'], "
             "['data', 'info', 'digits']):\n"
             "    try: main(args)\n"
             "    except SystemExit: pass\n"
             "print('HEAVY', sorted(m for m in ('torch', 'brevitas', 'finn', 'matplotlib') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert "HEAVY []" in out and "Commands:" in out and "digit" in out


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    proc = _tinyssl("train", *TINY, "--steps", "30", "--log-every", "0.01", "--runs",
                    str(tmp_path))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert lines and lines[-1].startswith("step 30/30") and "img/s" in lines[-1]
    assert "ETA" in lines[-1] and "loss" in lines[-1]


def test_kill_9_loses_at_most_the_checkpoint_interval_and_resumes(tmp_path: Path) -> None:
    interval = 1.0
    proc = _tinyssl("train", *TINY, "--steps", "100000", "--eval-every", "100000",
                    "--checkpoint-every", str(interval), "--no-progress", "--threads", "1",
                    "--runs", str(tmp_path))
    deadline = time.monotonic() + 240
    while not list(tmp_path.glob("*/checkpoints/last.pt")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3 * interval)
    proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    proc.wait()
    (last,) = tmp_path.glob("*/checkpoints/last.pt")
    assert killed_at - last.stat().st_mtime <= interval + 1.0  # one step and the write
    run = last.parent.parent
    step = torch.load(last, weights_only=False)["step"]
    assert step > 0 and not (run / "summary.json").exists()
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps",
                                       str(step + 5)])
    assert result.exit_code == 0, result.output
    assert f"resuming {run} from step {step} of {step + 5}" in result.output
    assert (run / "summary.json").is_file()


def test_extending_a_run_needs_more_steps(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["train", *TINY, "--steps", "6", "--no-progress", "--runs",
                                str(tmp_path)]).exit_code == 0
    (run,) = tmp_path.iterdir()
    umask = os.umask(0)
    os.umask(umask)
    for written in ("summary.json", "config.yaml", "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (run / written).stat().st_mode & 0o777 == 0o666 & ~umask, written  # not 0600
    shorter = runner.invoke(main, ["train", "--resume", str(run), "--steps", "3"])
    assert shorter.exit_code == 2 and "cannot shorten it" in shorter.output
    longer = runner.invoke(main, ["train", "--resume", str(run), "--steps", "9"])
    assert longer.exit_code == 0, longer.output
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=False)["step"] == 9
    assert "steps: 9" in (run / "config.yaml").read_text()


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b""), "is truncated or corrupt"),
    (lambda p: p.write_bytes(p.read_bytes()[:1000]), "is truncated or corrupt"),
])
def test_broken_checkpoints_are_named_with_what_to_do(tmp_path: Path, make, message) -> None:  # noqa: ANN001
    runner = CliRunner()
    assert runner.invoke(main, ["train", *TINY, "--steps", "4", "--no-progress", "--runs",
                                str(tmp_path)]).exit_code == 0
    (run,) = tmp_path.iterdir()
    make(run / "checkpoints" / "last.pt")
    resumed = runner.invoke(main, ["train", "--resume", str(run)])
    assert resumed.exit_code == 2 and message in resumed.output
    assert "best.pt beside it is intact" in resumed.output and "Traceback" not in resumed.output
    make(run / "checkpoints" / "best.pt")
    exported = runner.invoke(main, ["eval", str(run)])
    assert exported.exit_code == 2 and "no intact checkpoint is left" in exported.output


@pytest.mark.parametrize(("text", "message"), [
    ("steps: 5\n  lr: [0.1\n", "line 2: not valid YAML"),
    ("- steps\n- 5\n", "must hold a mapping of option: value at the top level (found a list)"),
])
@pytest.mark.parametrize("command", ["train", "fit", "sweep"])
def test_broken_yaml_is_one_line_with_file_and_line(tmp_path: Path, text: str, message: str,
                                                    command: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    args = [command, str(path)] if command == "sweep" else [command, "--config", str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {path}") and len(result.output.splitlines()) == 1
    assert message in result.output


def test_refused_training_leaves_no_run_directory(tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (["--image-size", "8"], ["-o", "threshold=abc", "--method", "fixmatch"],
                 ["-o", "foo=1"], ["--method", "fixmatch", "--labels-per-class", "1000"]):
        result = runner.invoke(main, ["train", "--data", "digits", "--steps", "3",
                                      "--no-progress", "--runs", str(tmp_path), *args])
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_resize_mode_is_saved_and_predict_uses_it(tmp_path: Path) -> None:
    import csv

    import numpy as np
    from PIL import Image

    from tinyssl.data.images import decode
    from tinyssl.models import load_net

    rng = np.random.default_rng(0)
    for c in "ab":
        (tmp_path / "set" / c).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (20, 40), dtype=np.uint8)).save(
                tmp_path / "set" / c / f"{i}.png")
    result = CliRunner().invoke(main, [
        "train", "--data", f"folder:{tmp_path / 'set'}", "--image-size", "16", "--resize",
        "center-crop", "--labels-per-class", "2", "--val-per-class", "1", "--steps", "3",
        "--no-progress", "--runs", str(tmp_path / "runs")], env={"TINYSSL_CACHE": str(
            tmp_path / "cache")})
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    assert "resize: center-crop" in (run / "config.yaml").read_text()
    image = tmp_path / "set" / "a" / "0.png"
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(main, ["predict", str(run), str(image), "--engine", "brevitas",
                                       "--out", str(out), "--top-k", "2"])
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(out.read_text().splitlines())
    net, _ = load_net(run)
    x = torch.from_numpy(decode(image, 16, "center-crop")).permute(2, 0, 1)[None] / 255.0
    with torch.no_grad():
        probs = torch.softmax(net(x), 1)[0]
    assert row["predicted"] == "ab"[int(probs.argmax())]
    assert abs(float(row["probability"]) - float(probs.max())) < 1e-3
