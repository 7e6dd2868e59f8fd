"""`tinyssl demo`, `tinyssl sweep`, `tinyssl report`: the questions users ask, one command each."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from tinyssl.cli.errors import clean_errors

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


def _run_sweep_and_report(config: Path, root: Path, workers: int,
                          ray_address: str | None = None) -> None:
    from tinyssl.pipeline.sweep import SweepConfig, run_sweep_workers

    cfg = SweepConfig.load(config)
    click.echo(f"sweep '{cfg.name}': {len(cfg.cells)} runs into {root}")
    failed = []
    if ray_address is None:
        run_sweep_workers(config, root, workers)
    else:
        from tinyssl.pipeline.sweep_ray import run_sweep_ray

        failed = [o for o in run_sweep_ray(config, root, ray_address) if o.error]
    from tinyssl.report import write_report

    report = write_report(root)
    _console().print(_summary_table(root))
    click.echo(f"report: {report}")
    for o in failed:
        click.echo(f"cell {o.cell} failed: {o.error}", err=True)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(cfg.cells)} cells failed; rerun "
                                   "the same command to retry them.")


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Sweep directory (default: runs/<sweep name>); rerun to resume.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine; other machines may run the same command on a "
                   "shared --out at the same time.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None,
              metavar="[ADDRESS]",
              help="Run each cell as a Ray task: on a new local Ray instance, or on the "
                   "cluster at ADDRESS (host:port, ray://host:port or auto).")
@clean_errors
def sweep(config: Path, out: Path | None, workers: int, ray_address: str | None) -> None:
    """Run a YAML grid of experiments (resumable), then write results.csv and the report."""
    from tinyssl.pipeline.sweep import SweepConfig, check_sweep

    if ray_address is not None and workers != 1:
        raise click.UsageError("--workers is for the built-in scheduler; with --ray, Ray "
                               "decides how many cells run at once.")
    cfg = SweepConfig.load(config)
    check_sweep(cfg)  # every cell, before the sweep directory or any cell exists
    _run_sweep_and_report(config, out or Path("runs") / cfg.name, workers, ray_address)


@click.command()
@click.argument("runs_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where report.md and the PNGs go (default: RUNS_DIR).")
@clean_errors
def report(runs_dir: Path, out: Path | None) -> None:
    """Tables (mean ± std over seeds) and plots from every finished run under RUNS_DIR."""
    from tinyssl.report import write_report

    path = write_report(runs_dir, out)
    _console().print(_summary_table(runs_dir))
    click.echo(f"report: {path}")


@click.command(short_help="The main job on the embedded digits: supervised vs UDA on the "
               "same labels, to the FPGA.")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs"), show_default=True)
@clean_errors
def demo(runs_root: Path) -> None:
    """The main job on the embedded digits data: few-label UDA and the supervised baseline on
    the same labels → QONNX export → FINN estimates → bit-accurate verification → report."""
    from tinyssl.runs import new_run_dir

    config = Path(str(resources.files("tinyssl") / "demo.yaml"))
    _run_sweep_and_report(config, new_run_dir(runs_root, "demo"), workers=1)
