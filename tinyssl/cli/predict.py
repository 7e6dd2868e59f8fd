"""`tinyssl predict RUN IMAGES…`: classify new images with a trained run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import RUN_ARGUMENT
from tinyssl.pipeline.predict import ENGINES  # light: torch is imported when an engine runs


@click.command()
@RUN_ARGUMENT
@click.argument("images", nargs=-1, required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV to write (default: RUN/predictions.csv).")
@click.option("--engine", type=click.Choice(ENGINES), default="onnxruntime", show_default=True,
              help="onnxruntime runs the exported QCDQ graph (exported first if needed); "
                   "brevitas and finn check that they agree on these images.")
@click.option("--top-k", type=click.IntRange(1), default=3, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=1024, show_default=True)
@clean_errors
def predict(run: Path, images: tuple[str, ...], out: Path | None, engine: str, top_k: int,
            batch_size: int) -> None:
    """Classify new images with RUN's exported network; writes a CSV.

    IMAGES are image files, directories (any layout, searched recursively) or .zip/.tar(.gz)
    archives, optionally written folder:PATH. Each image is resized as the run's training
    data was; unreadable files are skipped and counted. The CSV has one row per image: file,
    predicted class, its probability and the top-k classes.
    """
    from rich.progress import Progress

    from tinyssl.pipeline.predict import predict_files, predictions_csv, summary
    from tinyssl.runs import atomic_write_bytes

    with Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("decoding images", total=None)
        result = predict_files(run, list(images), engine, batch_size,
                               progress=lambda done, total: bar.update(task, completed=done,
                                                                        total=total))
    out = out or run / "predictions.csv"
    atomic_write_bytes(out, predictions_csv(result, min(top_k, len(result.classes))).encode())
    s = summary(result)
    click.echo(f"{s['images']} image(s) classified with {engine}"
               + (f", {s['skipped']} unreadable file(s) skipped" if s["skipped"] else "")
               + f"; mean top-1 probability {s['mean_probability']:.2f}; wrote {out}")
    width = max(len(c) for c in result.classes)
    for name, n in s["per_class"].items():
        click.echo(f"  {name:<{width}} {n:>7}  {100 * n / s['images']:5.1f} %")
