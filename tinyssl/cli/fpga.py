"""`tinyssl fpga build RUN --board B --target-fps F [--clock-ns T] [--folding FILE]`."""

from __future__ import annotations

from pathlib import Path

import click

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import RUN_ARGUMENT


@click.group("fpga")
def fpga() -> None:
    """FINN dataflow builds: resource/FPS estimates everywhere, bitstreams with Vivado."""


@fpga.command("build")
@RUN_ARGUMENT
@click.option("--board", default="Pynq-Z1", show_default=True,
              help="Pynq-Z1, Pynq-Z2, ZCU104, KV260 (hw/boards.yaml) or an FPGA part number.")
@click.option("--target-fps", type=float, default=1000.0, show_default=True,
              help="Throughput FINN folds the layers for.")
@click.option("--clock-ns", type=float, default=10.0, show_default=True,
              help="Clock period in ns (10 = 100 MHz).")
@click.option("--folding", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None,
              help="FINN folding config JSON (e.g. from hw/); overrides --target-fps.")
@click.option("--rtl", is_flag=True,
              help="RTL layer variants wherever FINN has them (standalone thresholds), with "
                   "generated Verilog, into RUN/fpga/rtl (what `verify --rtl` simulates).")
@click.option("--handoff", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write a folder that finishes the bitstream on a Vivado machine with "
                   "finn-plus alone (docs/fpga.md).")
@clean_errors
def build(run: Path, board: str, target_fps: float, clock_ns: float,
          folding: Path | None, rtl: bool, handoff: Path | None) -> None:
    """Build RUN's exported model with FINN and write RUN/fpga/report.{json,md}."""
    from tinyssl.fpga import build_run
    from tinyssl.fpga.rtl import build_rtl

    if handoff is not None and handoff.exists() and any(handoff.iterdir()):
        raise click.BadParameter(f"{handoff} exists and is not empty; pick a new folder.",
                                 param_hint="--handoff")
    try:
        report = (build_rtl if rtl else build_run)(run, board, target_fps, clock_ns, folding)
        if handoff is not None:
            _handoff(run, handoff, rtl)
    except RuntimeError as e:  # FINN failed while running: exit code 1 (bad input: 2)
        raise click.ClickException(str(e)) from e
    t = report["totals"]
    fits = {True: "fits", False: "DOES NOT FIT", None: "fit unknown"}[report["fits"]]
    click.echo(f"{report['board']}: {report['est_fps']:,.0f} FPS, {report['latency_ms']:.3f} ms, "
               f"LUT {t['LUT']:,.0f} BRAM_18K {t['BRAM_18K']:,.0f} URAM {t['URAM']:,.0f} "
               f"DSP {t['DSP']:,.0f} ({fits}); bottleneck {report['bottleneck']}")
    if report.get("target_missed"):
        click.echo(report["target_missed"])
    if "vs_default" in report:
        click.echo("RTL variants vs the default build: " + ", ".join(
            f"{k} {v:+,.0f}" for k, v in report["vs_default"].items()))
    if handoff is not None:
        click.echo(f"hand-off for a Vivado machine: {handoff} (run {handoff}/resume_build.sh)")
    if not report.get("hardware", {"ran": True})["ran"]:
        click.echo(f"hardware steps skipped: {report['hardware']['reason']} "
                   f"See {run / 'fpga' / 'report.md'} for which step needs which tool.")
    click.echo(f"report: {run / 'fpga' / ('rtl' if rtl else '') / 'report.md'}")


def _handoff(run: Path, dest: Path, rtl: bool) -> None:
    from tinyssl.fpga.build import finn_dir
    from tinyssl.fpga.handoff import write_handoff
    from tinyssl.fpga.rtl import RTL_SETTINGS, rtl_dir

    if rtl:
        write_handoff(run, rtl_dir(run) / "finn", dest, "rtl", RTL_SETTINGS)
    else:
        write_handoff(run, finn_dir(run), dest, "default")
