"""Issue 31: a fit directory works wherever a run does (its student, said in one line),
`tinyssl report` shows fits as fits, and `fit` says what to run next. One small real fit
(the session's digits_fit) serves every test; those that write work on a copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from tinyssl.cli import COMMANDS, main
from tinyssl.cli.fit import next_commands
from tinyssl.cli.options import RUN_ARGUMENT
from tinyssl.pipeline.fit_dir import resolve_run
from tinyssl.pipeline.fit_report import fit_markdown, gain_sentence, stage_table

NOTE = "is a fit directory; using its student"


@pytest.fixture
def fit(digits_fit: Path, tmp_path: Path) -> Path:
    return shutil.copytree(digits_fit, tmp_path / "fit-digits")


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_resolve_run(digits_fit: Path, tmp_path: Path) -> None:
    student = digits_fit / "student"
    assert resolve_run(student) == (student, None)  # a run is itself
    run, note = resolve_run(digits_fit)
    assert run == student and note == f"{digits_fit} {NOTE} {student}"
    (tmp_path / "fit.yaml").write_text("{}\n")  # a fit stopped before its student began
    with pytest.raises(ValueError, match=r"student has not trained yet; finish it with "
                                         r"`tinyssl fit --resume "):
        resolve_run(tmp_path)


def test_every_command_that_reads_a_run_takes_a_fit_directory() -> None:
    """predict, eval, export, verify, probe and fpga build share the one RUN argument (and
    select's --run its resolution)."""
    import importlib

    shared = RUN_ARGUMENT(lambda run: None).__click_params__[0]  # type: ignore[attr-defined]
    for name in ("predict", "eval", "export", "verify", "probe", "fpga"):
        module, attr, _ = COMMANDS[name]
        command = getattr(importlib.import_module(module), attr)
        if name == "fpga":
            command = command.commands["build"]
        [run] = [p for p in command.params if p.name == "run"]
        assert run.callback is shared.callback, name
    select = importlib.import_module("tinyssl.cli.select").select_command
    assert next(p for p in select.params if p.name == "run").callback is shared.callback


def test_eval_export_predict_probe_on_a_fit_use_its_student(fit: Path, tmp_path: Path) -> None:
    student = fit / "student"
    code, out = _invoke("eval", str(fit))
    assert code == 0, out
    assert f"note: {fit} {NOTE} {student}" in out and (student / "eval.json").is_file()

    code, out = _invoke("export", str(fit))
    assert code == 0 and NOTE in out, out
    assert (student / "model.qonnx.onnx").is_file() and (student / "model.qcdq.onnx").is_file()

    data = yaml.safe_load((student / "config.yaml").read_text())["data"]
    with np.load(data.removeprefix("npz:")) as f:
        images = f["x_test"][:3]
    for i, img in enumerate(images):
        Image.fromarray(img[..., 0]).save(tmp_path / f"{i}.png")
    code, out = _invoke("predict", str(fit), *(str(tmp_path / f"{i}.png") for i in range(3)))
    assert code == 0 and NOTE in out, out
    assert "3 image(s) classified" in out and (student / "predictions.csv").is_file()

    code, out = _invoke("probe", str(fit), "--data", data, "--labels-per-class", "2",
                        "--device", "cpu")
    assert code == 0 and NOTE in out, out
    assert json.loads((student / "probe.json").read_text())["labels"] == 20
    assert not (fit / "eval.json").exists() and not (fit / "model.qcdq.onnx").exists()


def test_select_next_round_from_a_fit_uses_its_student(fit: Path, tmp_path: Path) -> None:
    data = yaml.safe_load((fit / "student" / "config.yaml").read_text())["data"]
    code, out = _invoke("select", data, "--run", str(fit), "--budget", "3",
                        "--out", str(tmp_path / "next.csv"))
    assert code == 0, out
    assert f"note: {fit} {NOTE} {fit / 'student'}" in out
    assert "picked 3 image(s) by uncertain" in out  # the student's predictions: next round


@pytest.mark.parametrize("command", [["verify"], ["fpga", "build"], ["predict"], ["eval"],
                                     ["export"], ["probe", "--data", "digits"]])
def test_a_fit_without_a_student_yet_is_one_sentence(command: list[str],
                                                     tmp_path: Path) -> None:
    (tmp_path / "fit.yaml").write_text("{}\n")
    extra = ["x.png"] if command == ["predict"] else []
    code, out = _invoke(*command, str(tmp_path), *extra)
    assert code == 2 and "Traceback" not in out
    assert f"Error: {tmp_path} is a fit directory whose student has not trained yet" in out


def test_report_shows_a_fit_as_its_stages(fit: Path, tmp_path: Path) -> None:
    """A runs folder holding a fit and one plain run: the experiments table has the plain run
    alone (fit's baseline and float_init are not merged into "supervised, 2 seeds", its
    trials are not experiments), and the fit appears with fit.md's own stage rows."""
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.move(fit, runs / fit.name)
    shutil.copytree(runs / fit.name / "baseline", runs / "supervised-run")
    code, out = _invoke("report", str(runs))
    assert code == 0, out
    report = (runs / "report.md").read_text()
    assert "1 finished runs in 1 experiments, and 1 fit(s)" in report
    summary = (runs / "summary.csv").read_text().splitlines()
    assert len(summary) == 2 and ",supervised,tiny-w2a2,40,1," in summary[1]  # one seed
    r = json.loads((runs / fit.name / "fit.json").read_text())
    rows = stage_table(r)[2:]
    assert [line.split(" | ")[0] for line in rows] == [f"| {s['stage']}" for s in r["stages"]]
    fit_md = (runs / fit.name / "fit.md").read_text()
    for line in rows:  # the very numbers of fit.json, as fit.md prints them
        assert line in report and line in fit_md
    for s in r["stages"]:
        assert f"| {100 * s['test_acc']:.1f} |" in report
    assert f"fit {fit.name}" in out  # the terminal summary has the fit's table too
    assert gain_sentence(r["gain_over_baseline"]) in report


def test_fit_says_what_to_run_next(digits_fit: Path) -> None:
    r = json.loads((digits_fit / "fit.json").read_text())
    text = next_commands(digits_fit, r)
    assert f"student {digits_fit / 'student'}" in text
    for command in ("export", "verify", "predict", "fpga build"):
        assert f"tinyssl {command} {digits_fit}" in text
    assert str(digits_fit / "fit.md") in text
    done = next_commands(digits_fit, {**r, "verify": {"agree": True}})
    assert "tinyssl verify" not in done and "tinyssl predict" in done  # fit verified already


def test_a_negative_gain_is_a_loss(digits_fit: Path) -> None:
    assert gain_sentence(0.032) == ("The distilled student gains 3.2 points over the "
                                    "supervised baseline on the same labels.")
    assert gain_sentence(-0.078).startswith("The distilled student loses 7.8 points against")
    assert gain_sentence(0.0001).startswith("The distilled student matches the supervised")
    r = json.loads((digits_fit / "fit.json").read_text())
    text = fit_markdown({**r, "gain_over_baseline": -0.078})
    assert "loses 7.8 points" in text and "gains -" not in text
