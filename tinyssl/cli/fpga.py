"""`tinyssl fpga build RUN --board B --target-fps F [--clock-ns T] [--folding FILE]`."""

from __future__ import annotations

from pathlib import Path

import click

from tinyssl.cli.errors import clean_errors


@click.group("fpga")
def fpga() -> None:
    """FINN dataflow builds: resource/FPS estimates everywhere, bitstreams with Vivado."""


@fpga.command("build")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--board", default="Pynq-Z1", show_default=True,
              help="Pynq-Z1, Pynq-Z2, ZCU104, KV260 (hw/boards.yaml) or an FPGA part number.")
@click.option("--target-fps", type=float, default=1000.0, show_default=True,
              help="Throughput FINN folds the layers for.")
@click.option("--clock-ns", type=float, default=10.0, show_default=True,
              help="Clock period in ns (10 = 100 MHz).")
@click.option("--folding", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None,
              help="FINN folding config JSON (e.g. from hw/); overrides --target-fps.")
@clean_errors
def build(run: Path, board: str, target_fps: float, clock_ns: float,
          folding: Path | None) -> None:
    """Build RUN's exported model with FINN and write RUN/fpga/report.{json,md}."""
    from tinyssl.fpga import build_run

    try:
        report = build_run(run, board, target_fps, clock_ns, folding)
    except RuntimeError as e:  # FINN failed while running: exit code 1 (bad input: 2)
        raise click.ClickException(str(e)) from e
    t = report["totals"]
    fits = {True: "fits", False: "DOES NOT FIT", None: "fit unknown"}[report["fits"]]
    click.echo(f"{report['board']}: {report['est_fps']:,.0f} FPS, {report['latency_ms']:.3f} ms, "
               f"LUT {t['LUT']:,.0f} BRAM_18K {t['BRAM_18K']:,.0f} URAM {t['URAM']:,.0f} "
               f"DSP {t['DSP']:,.0f} ({fits}); bottleneck {report['bottleneck']}")
    if not report["hardware"]["ran"]:
        click.echo(f"hardware steps skipped: {report['hardware']['reason']} "
                   f"See {run / 'fpga' / 'report.md'} for which step needs which tool.")
    click.echo(f"report: {run / 'fpga' / 'report.md'}")
