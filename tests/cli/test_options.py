"""Options several commands share: `--runs` means the same folder for train, fit, sweep,
transfer and demo (sweep keeps `--out` for naming the sweep directory itself)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tinyssl.cli import main

SWEEP = "name: grid\nbase: {data: digits, steps: 2}\ngrid: {seed: [0]}\n"


@pytest.fixture
def sweep_roots(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Where `tinyssl sweep` would run its cells (the run itself replaced by a record)."""
    import tinyssl.cli.experiment as experiment

    roots: list[Path] = []
    monkeypatch.setattr(experiment, "_run_sweep_and_report",
                        lambda config, root, workers, ray=None: roots.append(root))
    return roots


def test_sweep_runs_like_train_and_fit_and_out_names_the_directory(
        tmp_path: Path, sweep_roots: list[Path]) -> None:
    config = tmp_path / "grid.yaml"
    config.write_text(SWEEP)
    runner = CliRunner()
    for args in (["--runs", str(tmp_path / "R")], ["--out", str(tmp_path / "exact")], []):
        result = runner.invoke(main, ["sweep", str(config), *args])
        assert result.exit_code == 0, result.output
    assert sweep_roots == [tmp_path / "R" / "grid", tmp_path / "exact", Path("runs") / "grid"]
    both = runner.invoke(main, ["sweep", str(config), "--runs", "a", "--out", "b"])
    assert both.exit_code == 2 and "not both" in both.output


@pytest.mark.parametrize("command", ["train", "pretrain", "fit", "sweep", "transfer", "demo"])
def test_every_command_that_makes_runs_takes_runs(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "--runs DIRECTORY" in result.output
    assert "[default: runs]" in " ".join(result.output.split())
