"""`tinyssl demo`, `tinyssl sweep`, `tinyssl report`: the questions users ask, one command each."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import runs_option

# The report, sweep and run modules (torch, matplotlib) are imported inside the commands, so
# that `tinyssl sweep --help` starts at once.


def _console() -> Console:
    """Rich assumes 80 columns when output is not a terminal; the summary needs more."""
    console = Console()
    return console if console.is_terminal else Console(width=150)


def _summary_table(root: Path) -> Table:
    """One screen: accuracy, FPGA cost and verification per experiment."""
    from tinyssl.report.tables import find_runs, group_runs, mean_pm

    table = Table(title=f"tinyssl results: {root}")
    for col in ("data", "method", "model", "labels", "seeds", "test acc %", "macro-F1 %",
                "LUT", "est. FPS", "bit-exact"):
        table.add_column(col)
    for g in group_runs(find_runs(root)):
        acc, acc_sd = g.stat("test_acc")
        f1, _ = g.stat("test_macro_f1")
        agree = {r.verify.get("agree") for r in g.runs if r.verify}
        lut, fps = g.fpga_total("LUT"), g.fpga_value("est_fps")
        table.add_row(*map(str, g.key), str(len(g.runs)), mean_pm(acc, acc_sd, len(g.runs)),
                      f"{100 * f1:.1f}", "–" if lut is None else f"{lut:,.0f}",
                      "–" if fps is None else f"{fps:,.0f}",
                      "–" if not agree else ("yes" if agree == {True} else "NO"))
    return table


def _fit_tables(root: Path) -> list[Table]:
    """One table per finished fit under `root`, its stages as fit.md lists them."""
    from tinyssl.pipeline.fit_report import STAGE_COLUMNS, fit_title, stage_rows
    from tinyssl.report.fits import find_fits

    tables = []
    for fit in find_fits(root):
        if not fit.result:
            continue
        table = Table(title=f"fit {fit.path.name}: {fit_title(fit.result)}")
        for col in STAGE_COLUMNS:
            table.add_column(col)
        for cells in stage_rows(fit.result):
            table.add_row(*cells)
        tables.append(table)
    return tables


def _print_summary(root: Path) -> None:
    console = _console()
    console.print(_summary_table(root))
    for table in _fit_tables(root):
        console.print(table)


def _run_sweep_and_report(config: Path, root: Path, workers: int,
                          ray_address: str | None = None) -> None:
    from tinyssl.pipeline.sweep import SweepConfig, run_sweep_workers
    from tinyssl.report import write_report
    from tinyssl.train import TrainingInterrupted

    cfg = SweepConfig.load(config)
    click.echo(f"sweep '{cfg.name}': {len(cfg.cells)} runs into {root}")
    failed = []
    if ray_address is None:
        try:
            run_sweep_workers(config, root, workers)
        except TrainingInterrupted as e:  # the sweep resumes the cell, and runs the rest
            raise TrainingInterrupted(e.run, e.step, how=(
                f"Continue the sweep with `tinyssl sweep {config} --out {root}`.")) from None
    else:
        from tinyssl.pipeline.sweep_ray import run_sweep_ray

        failed = [o for o in run_sweep_ray(config, root, ray_address) if o.error]
    report = write_report(root)
    _print_summary(root)
    click.echo(f"report: {report}")
    for o in failed:
        click.echo(f"cell {o.cell} failed: {o.error}", err=True)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(cfg.cells)} cells failed; rerun "
                                   "the same command to retry them.")


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@runs_option("The sweep goes to RUNS/<sweep name>/, as train's and fit's runs go under "
             "RUNS; rerun to resume")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Or name the sweep directory itself (instead of RUNS/<sweep name>).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine; other machines may run the same command on a "
                   "shared sweep directory at the same time.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None,
              metavar="[ADDRESS]",
              help="Run each cell as a Ray task: on a new local Ray instance, or on the "
                   "cluster at ADDRESS (host:port, ray://host:port or auto).")
@clean_errors
def sweep(config: Path, runs_root: Path, out: Path | None, workers: int,
          ray_address: str | None) -> None:
    """Run a YAML grid of experiments (resumable), then write results.csv and the report."""
    from tinyssl.pipeline.sweep import SweepConfig, check_sweep

    if ray_address is not None and workers != 1:
        raise click.UsageError("--workers is for the built-in scheduler; with --ray, Ray "
                               "decides how many cells run at once.")
    given = click.get_current_context().get_parameter_source("runs_root")
    if out is not None and given is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("give --runs (the sweep goes to RUNS/<sweep name>) or --out "
                               "(the sweep directory itself), not both.")
    cfg = SweepConfig.load(config)
    check_sweep(cfg)  # every cell, before the sweep directory or any cell exists
    _run_sweep_and_report(config, out or runs_root / cfg.name, workers, ray_address)


@click.command()
@click.argument("runs_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where report.md and the PNGs go (default: RUNS_DIR).")
@clean_errors
def report(runs_dir: Path, out: Path | None) -> None:
    """Tables (mean ± std over seeds) and plots from every finished run under RUNS_DIR."""
    from tinyssl.report import write_report

    path = write_report(runs_dir, out)
    _print_summary(runs_dir)
    click.echo(f"report: {path}")


@click.command(short_help="The main job on the embedded digits: supervised vs UDA on the "
               "same labels, to the FPGA.")
@runs_option("The demo's sweep goes to RUNS/demo-<time>/")
@clean_errors
def demo(runs_root: Path) -> None:
    """The main job on the embedded digits data: few-label UDA and the supervised baseline on
    the same labels → QONNX export → FINN estimates → bit-accurate verification → report."""
    from tinyssl.runs import new_run_dir

    config = Path(str(resources.files("tinyssl") / "demo.yaml"))
    _run_sweep_and_report(config, new_run_dir(runs_root, "demo"), workers=1)
