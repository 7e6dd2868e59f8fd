"""`tinyssl export RUN [--cost]`."""

from __future__ import annotations

from pathlib import Path

import click

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import RUN_ARGUMENT


@click.command("export")
@RUN_ARGUMENT
@click.option("--cost", is_flag=True, help="Also print (and save to RUN/cost.json) the qonnx "
              "inference cost: MACs, bit operations, weight bits.")
@clean_errors
def export(run: Path, cost: bool) -> None:
    """Export RUN's trained network to QONNX (for FINN) and QCDQ ONNX (for onnxruntime)."""
    from tinyssl.export import export_run, inference_cost
    from tinyssl.runs import atomic_write_json

    paths = export_run(run)  # UnsupportedModelError is a ValueError: exit code 2
    for kind, path in paths.items():
        click.echo(f"{kind}: {path}")
    if cost:
        result = inference_cost(paths["qonnx"])
        atomic_write_json(run / "cost.json", result)
        for key, value in result.items():
            click.echo(f"{key}: {value:,.0f}")
