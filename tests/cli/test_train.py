"""`tinyssl train` / `tinyssl eval` from the command line: YAML + overrides, clean errors,
evaluation outputs, and DDP under torchrun with two gloo processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tinyssl.cli import main
from tinyssl.config import load_config

FAST = ["--data", "digits", "--image-size", "16", "--model", "tiny-w2a2", "--device", "cpu",
        "--no-progress"]


def _train(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["train", *FAST, "--runs", str(tmp_path), *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "mixmatch"], "unknown method 'mixmatch'"),
    (["--model", "tiny-w3a3"], "bit width 3 is not supported"),
    (["--model", "tiny-w2a2x"], "unknown model 'tiny-w2a2x'"),
    (["--labels-per-class", "100000"], "label"),
    (["-o", "temperature=0.5"], "method supervised has no option 'temperature'"),
    (["--method", "fixmatch", "-o", "threshold=abc"],
     "option threshold of method fixmatch must be float, got 'abc'"),
    (["--method", "uda", "-o", "tsa=cubic"], "unknown tsa schedule 'cubic'"),
    (["--lr", "-1"], "lr, width_mult and unlabeled_ratio must be positive"),
])
def test_bad_options_give_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, out = _train(tmp_path, "--steps", "2", "--labels-per-class", "3", *args)
    assert code == 2, out
    assert message in out and "Traceback" not in out


def test_config_file_with_cli_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"method": "uda", "lr": 0.1, "steps": 50,
                                    "method_options": {"tsa": "exp"}}))
    cfg = load_config(path, {"lr": 0.2, "steps": None})
    assert (cfg.method, cfg.lr, cfg.steps, cfg.method_options) == ("uda", 0.2, 50, {"tsa": "exp"})
    path.write_text("lr: 0.1\nlearning_rate: 3\n")
    with pytest.raises(ValueError, match="unknown option.*learning_rate"):
        load_config(path, {})


@pytest.mark.parametrize(("options", "lr"), [
    ({"model": "tiny-w2a2"}, 0.3), ({"model": "cnv-w1a1", "optimizer": "adam"}, 0.02),
    ({"model": "resnet18"}, 0.03), ({"model": "tiny-w2a2", "lr": 0.05}, 0.05),
])
def test_default_lr_follows_optimizer_and_model(options: dict, lr: float) -> None:
    assert load_config(None, options).lr == lr


def test_train_then_eval(tmp_path: Path) -> None:
    code, out = _train(tmp_path, "--method", "fixmatch", "--labels", "50", "--steps", "6",
                       "--eval-every", "3", "-o", "threshold=0.9")
    assert code == 0, out
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert "test accuracy" in out and run.name.startswith("fixmatch-digits-tiny-w2a2-s0")
    assert yaml.safe_load((run / "config.yaml").read_text())["method_options"] == \
        {"threshold": 0.9}
    result = CliRunner().invoke(main, ["eval", str(run), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads((run / "eval.json").read_text())
    assert set(report["per_class"]) == {str(i) for i in range(10)}
    assert report["accuracy"] == pytest.approx(
        json.loads((run / "summary.json").read_text())["test_acc"])
    assert (run / "eval-confusion.png").stat().st_size > 1000
    assert "macro-F1" in result.output


def test_ddp_with_two_gloo_processes(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "--no-python", sys.executable, "-c",
           "import sys; from tinyssl.cli import main; sys.exit(main())", "train", *FAST,
           "--method", "uda", "--labels-per-class", "3", "--steps", "8", "--eval-every", "4",
           "--batch-size", "8", "--runs", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]  # rank 1 wrote no directory
    lines = (run / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == [4, 8]  # written once, by rank 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 8 and summary["test_acc"] is not None
