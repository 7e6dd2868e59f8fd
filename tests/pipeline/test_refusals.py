"""Refusals come before anything runs: every bad option of `fit`, `sweep`, `transfer` (and
the clear refusals of issue 31) exits 2 with one "Error:" sentence naming the option, no
traceback, and leaves the runs folder as it was — no directory, no trained stage."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

import tinyssl
from tinyssl.cli import main

REPO = Path(tinyssl.__file__).resolve().parents[1]

FIT = ["fit", "--data", "digits", "--labels-per-class", "2", "--no-progress", "--threads", "1"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYSSL_CACHE", str(tmp_path / "cache"))


def _refused(args: list[str], names: str) -> str:
    """Run the CLI; assert exit 2, one Error: line that contains `names`, no traceback."""
    result = CliRunner().invoke(main, args)
    out = result.output
    assert result.exit_code == 2, out
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and names in errors[0], out
    assert "Traceback" not in out
    return errors[0]


def _one_class_folder(root: Path) -> Path:
    (root / "cells").mkdir(parents=True)
    for i in range(6):
        Image.fromarray(np.full((12, 12, 3), 40 * i, np.uint8)).save(root / "cells" / f"{i}.png")
    return root


@pytest.mark.parametrize(("args", "names"), [
    (["--board", "X"], "unknown board 'X'"),
    (["--target-fps", "0"], "target_fps"),
    (["--target-fps", "-5"], "target_fps"),
    (["--target-fps", "nan"], "target_fps"),
    (["--target-fps", "1e12"], "target_fps 1e+12 cannot be reached"),
    (["--temperature", "0"], "temperature must be positive"),
    (["--steps", "0"], "steps must be at least 1 (got 0)"),
    (["--teacher-steps", "0"], "teacher_steps must be at least 1"),
    (["--trial-steps", "1"], "trial_steps must be at least 2"),
    (["--pretrain-steps", "-1"], "pretrain_steps must be at least 0"),
    (["--batch-size", "0"], "batch_size must be at least 1"),
    (["--selection-rounds", "0"], "selection_rounds must be at least 1"),
    (["--student-lr", "0"], "student_lr must be positive"),
    (["--teacher-scale", "-1"], "teacher_scale must be positive"),
    (["--width-mult", "0"], "width_mult must be positive"),
    (["--model", "tiny-w3a2"], "weight bit width 3 is not supported"),
    (["--model", "tiny-float"], "quantized student preset"),
    (["--model", "huge-w2a2"], "unknown student model 'huge-w2a2'"),
    (["--teacher-model", "nope"], "unknown teacher model 'nope'"),
    (["--teacher-method", "simclr"], "unknown teacher_method 'simclr'"),
    (["--image-size", "3"], "image_size 3 is too small for tiny-w2a2"),
    (["--labels-per-class", "5000"], "lower the label budget"),
    (["--unlabeled", "-1"], "unlabeled must be a count"),
    (["-o", "nope=1"], "has no option 'nope'"),
])
def test_fit_refuses_before_any_directory(tmp_path: Path, args: list[str], names: str) -> None:
    _refused([*FIT, "--runs", str(tmp_path / "runs"), *args], names)
    assert not (tmp_path / "runs").exists()


def test_fit_on_one_class_data_is_refused(tmp_path: Path) -> None:
    data = _one_class_folder(tmp_path / "one")
    _refused(["fit", "--data", f"folder:{data}", "--image-size", "16", "--labels-per-class",
              "1", "--runs", str(tmp_path / "runs")], "has one class (cells)")
    _refused(["train", "--data", f"folder:{data}", "--image-size", "16", "--steps", "2",
              "--runs", str(tmp_path / "runs")], "a classifier needs at least two")
    assert not (tmp_path / "runs").exists()


def test_fit_option_refusal_does_not_import_torch(tmp_path: Path) -> None:
    """What makes a refusal take a second instead of 6-20 s (torch and Brevitas imports)."""
    code = ("import sys\nfrom tinyssl.cli import main\ntry:\n    main()\nexcept SystemExit as e:"
            "\n    print('exit', e.code, 'torch' in sys.modules)")
    for args in (["--board", "X"], ["--model", "tiny-w3a2"], ["--steps", "0"]):
        res = subprocess.run([sys.executable, "-c", code, *FIT, "--runs", str(tmp_path), *args],
                             capture_output=True, text=True, env={**os.environ,
                                                                  "PYTHONPATH": str(REPO)})
        assert res.stdout.split()[-3:] == ["exit", "2", "False"], res.stdout + res.stderr


def test_train_steps_zero_names_steps(tmp_path: Path) -> None:
    _refused(["train", "--data", "digits", "--labels", "20", "--selection", "uniform",
              "--steps", "0", "--runs", str(tmp_path / "runs")], "steps must be at least 1")
    assert not (tmp_path / "runs").exists()


def _sweep(tmp_path: Path, **body: object) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": {"data": "digits", "steps": 2,
                                                          "labels_per_class": 2}, **body}))
    return path


@pytest.mark.parametrize(("body", "names"), [
    ({"grid": {"method": ["supervised", "nope"]}}, "unknown method 'nope'"),
    ({"grid": {"data": ["digits", "npz:/nonexistent/x.npz"]}}, "does not exist"),
    ({"grid": {"labels_per_class": [2, 5000]}}, "lower the label budget"),
    ({"grid": {"seed": [0]}, "fpga": {"board": "X"}}, "unknown board 'X'"),
    ({"grid": {"seed": [0]}, "fpga": {"target_fps": 0}}, "target_fps"),
    ({"grid": {"seed": [0]}, "fpga": {"bord": "Pynq-Z1"}}, "sweep fpga:"),
    ({"grid": {"seed": [0]}, "verify": {"images": 0}}, "sweep verify:"),
    ({"grid": {"steps": [2, 0]}}, "steps must be at least 1"),
])
def test_sweep_checks_every_cell_first(tmp_path: Path, body: dict, names: str) -> None:
    err = _refused(["sweep", str(_sweep(tmp_path, **body)), "--out", str(tmp_path / "out")],
                   names)
    assert not (tmp_path / "out").exists()
    if "grid" in body and len(next(iter(body["grid"].values()))) > 1:
        assert "cell " in err  # which cell is wrong


def test_sweep_workers_zero_is_refused(tmp_path: Path) -> None:
    _refused(["sweep", str(_sweep(tmp_path, grid={"seed": [0]})), "--out", str(tmp_path / "o"),
              "--workers", "0"], "--workers")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("change", "names"), [
    ({"sources": {"digits": "digits", "gone": "npz:/nonexistent/x.npz"}}, "transfer source gone"),
    ({"finetune": {"labels_per_class": 5000, "steps": 2}}, "lower the label budget"),
    ({"pretrain": {"method": "fixmatch", "steps": 2}}, "not a pretext method"),
    ({"probe_k": 0}, "probe_k must be at least 1"),
])
def test_transfer_checks_sources_and_targets_first(tmp_path: Path, change: dict,
                                                   names: str) -> None:
    study = {"name": "t", "sources": {"digits": "digits", "none": None},
             "targets": {"digits": "digits"}, "image_size": 16, "channels": 1,
             "pretrain": {"steps": 2}, "finetune": {"labels_per_class": 2, "steps": 2}, **change}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(study))
    _refused(["transfer", str(tmp_path / "t.yaml"), "--runs", str(tmp_path / "runs")], names)
    assert not (tmp_path / "runs").exists()


def test_fit_resume_may_change_hardware_options_only(tmp_path: Path) -> None:
    from tinyssl.pipeline.fit import FIT_FILE, FitConfig, prepare_fit

    cfg = FitConfig.load(None, {"data": "digits", "labels_per_class": 2, "steps": 4})
    _, fit_dir, _ = prepare_fit(cfg, tmp_path / "runs", None)  # checked, created, not trained
    before = sorted(p.name for p in (tmp_path / "runs").rglob("*"))
    err = _refused(["fit", "--resume", str(fit_dir), "--steps", "8", "--temperature", "3"],
                   "--steps, --temperature would change it")
    assert "--board" in err and "--target-fps" in err  # what may be given instead
    _refused(["fit", "--resume", str(fit_dir), "--board", "X"], "unknown board 'X'")
    assert sorted(p.name for p in (tmp_path / "runs").rglob("*")) == before
    resumed, same_dir, _ = prepare_fit(None, tmp_path / "runs", fit_dir,
                                       {"board": "ZCU104", "target_fps": 500.0,
                                        "progress": False, "steps": None})
    assert same_dir == fit_dir and (resumed.board, resumed.target_fps) == ("ZCU104", 500.0)
    assert resumed.steps == 4
    saved = yaml.safe_load((fit_dir / FIT_FILE).read_text())
    assert (saved["board"], saved["target_fps"], saved["steps"]) == ("ZCU104", 500.0, 4)


@pytest.fixture(scope="module")
def pretrain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pretrain")
    result = CliRunner().invoke(main, ["pretrain", "--method", "simclr", "--data", "digits",
                                       "--steps", "2", "--batch-size", "16", "--width-mult",
                                       "0.25", "--no-progress", "--log", "none",
                                       "--no-float-twin", "--runs", str(root)])
    assert result.exit_code == 0, result.output
    return next(p for p in root.iterdir() if p.is_dir())


@pytest.mark.parametrize("command", [["export"], ["eval"], ["predict"]])
def test_pretrain_run_is_no_classifier(pretrain_run: Path, tmp_path: Path,
                                       command: list[str]) -> None:
    images = [str(tmp_path)] if command == ["predict"] else []
    err = _refused([*command, str(pretrain_run), *images], "simclr pre-training run")
    assert "tinyssl probe" in err and "--init" in err
    assert not (pretrain_run / "model.qonnx.onnx").exists()


def test_npz_source_on_an_archive_says_what_it_is(tmp_path: Path) -> None:
    archive = tmp_path / "cells.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("a/0.png")
        png = io.BytesIO()
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(png, format="PNG")
        info.size = len(png.getvalue())
        tar.addfile(info, io.BytesIO(png.getvalue()))
    err = _refused(["data", "info", f"npz:{archive}"], "is not an .npz file")
    assert "gzip archive" in err and f"folder:{archive}" in err and "pickle" not in err
