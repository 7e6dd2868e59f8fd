"""`tinyssl verify RUN [--images N] [--data SOURCE]`."""

from __future__ import annotations

from pathlib import Path

import click

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import RUN_ARGUMENT
from tinyssl.verify import DEFAULT_IMAGES


@click.command("verify")
@RUN_ARGUMENT
@click.option("--images", type=int, default=DEFAULT_IMAGES, show_default=True,
              help="Test images run through every stage (FINN's Python execution is slow).")
@click.option("--data", default=None, help="Data source to test on (default: the run's).")
@click.option("--rtl", is_flag=True,
              help="Also simulate the RTL-variant accelerator's generated Verilog (Verilator), "
                   "node by node and stitched, bit-exact against FINN's Python execution.")
@clean_errors
def verify(run: Path, images: int, data: str | None, rtl: bool) -> None:
    """Check Brevitas, QONNX, FINN and onnxruntime compute the same logits on RUN's test set."""
    from tinyssl.verify import verify_run

    try:
        result = verify_run(run, images, data, rtl)
    except RuntimeError as e:  # FINN or Verilator failed or is missing: exit code 1 (input: 2)
        raise click.ClickException(str(e)) from e
    click.echo(f"{'stage':<18} {'top-1 agree':>11} {'max |dlogit|':>12} {'accuracy':>9}")
    for name, s in result["stages"].items():
        click.echo(f"{name:<18} {s['top1_agreement']:>11.2%} {s['max_abs_logit_diff']:>12.2e} "
                   f"{s['accuracy']:>9.2%}")
    click.echo(f"quantized test accuracy (onnxruntime, {result['test_images']} images): "
               f"{result['quant_test_acc']:.2%}")
    if rtl:
        from tinyssl.verify.rtl_report import rtl_table

        click.echo(rtl_table(result["rtl"]))
    if result["first_diverging_stage"] is None and not result["agree"]:
        raise click.ClickException(f"the RTL simulation of {result['rtl']['first_bad_node']} "
                                   f"differs from FINN's Python execution; see "
                                   f"{run / 'verify.json'}.")
    if not result["agree"]:
        stage = result["first_diverging_stage"]
        bad = result["stages"][stage]["first_bad_image"]
        where = result["first_diverging_layer"]
        layer = f" at layer {where['layer']}" if where and where.get("layer") else ""
        node = f" (graph node {where['graph_node']})" if where and where.get("graph_node") else ""
        raise click.ClickException(f"stage '{stage}' diverges from Brevitas{layer}{node}, first "
                                   f"on test image {bad}; see {run / 'verify.json'}.")
    click.echo(f"all stages agree on {result['images']} images; {run / 'verify.json'}")
