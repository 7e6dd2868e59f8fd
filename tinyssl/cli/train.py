"""`tinyssl train` and `tinyssl eval`: thin wrappers over run_training and the metrics.

Every TrainConfig field is a CLI option; a YAML `--config` supplies defaults and options given
on the command line override it. Bad input becomes one line (exit code 2), not a
traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import (
    LABELS_FILE_OPTION,
    LOG_OPTION,
    RESIZE_OPTION,
    RUN_ARGUMENT,
    SELECTION_FEATURES_OPTION,
    SELECTION_OPTION,
    SELECTION_ROUNDS_OPTION,
    THREADS_OPTION,
    parse_method_options,
    runs_option,
)
from tinyssl.config import DEFAULT_LR


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file of options; command-line options override it.")
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path),
              help="Continue an interrupted run directory exactly (its own config is used).")
@click.option("--method", help="supervised, uda, fixmatch, flexmatch, freematch, distill, "
              "pseudolabel, or a pretext method.")
@click.option("--data", help="Data source: digits, npz:PATH, folder:PATH, cifar10, ...")
@click.option("--labels", type=int, help="Total labelled images (spread over classes).")
@click.option("--labels-per-class", type=int, help="Labelled images per class.")
@click.option("--val-per-class", type=int, help="Validation images per class (from train).")
@LABELS_FILE_OPTION
@SELECTION_OPTION
@SELECTION_FEATURES_OPTION
@SELECTION_ROUNDS_OPTION
@click.option("--unlabeled", type=float,
              help="Cap the unlabelled pool: a number of images, or a fraction if < 1.")
@click.option("--image-size", type=int, help="Resize images to this side length.")
@RESIZE_OPTION
@click.option("--model", help="Model preset, e.g. tiny-w2a2, cnv-w1a1, resnet18.")
@click.option("--width-mult", type=float, help="Scale every layer's width.")
@click.option("--steps", type=int, help="Training steps (optimizer updates); with --resume, "
              "extend the run to this many.")
@click.option("--batch-size", type=int, help="Labelled batch per process.")
@click.option("--unlabeled-ratio", type=float, help="Unlabelled : labelled batch size.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]))
@click.option("--lr", type=float,
              help=f"Peak learning rate (default: {DEFAULT_LR[True, True]:g} SGD / "
                   f"{DEFAULT_LR[False, True]:g} Adam for quantized presets, "
                   f"{DEFAULT_LR[True, False]:g} / {DEFAULT_LR[False, False]:g} for float "
                   "ones).")
@click.option("--weight-decay", type=float)
@click.option("--warmup", type=float, help="Warm-up: fraction of steps (<1) or steps (>=1).")
@click.option("--ema", type=float, help="EMA decay of the evaluated weights (0 = off).")
@click.option("--bn-recalibrate/--no-bn-recalibrate", default=None,
              help="Re-estimate BatchNorm statistics before each validation (default on).")
@click.option("--amp", type=click.Choice(["auto", "bf16", "fp16", "off"]),
              help="Mixed precision on CUDA.")
@click.option("--fast-quant/--no-fast-quant", default=None,
              help="Train quantized layers through the bit-identical fast path (default on); "
                   "off: Brevitas's own layers.")
@click.option("--eval-every", type=int)
@click.option("--target-acc", type=float, help="Record the time to this val accuracy.")
@click.option("--seed", type=int)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--name", help="Run directory name prefix.")
@click.option("--init", help="Run directory whose encoder initialises this model.")
@click.option("--freeze-encoder/--no-freeze-encoder", default=None,
              help="Train only the classifier on top of --init's encoder.")
@click.option("--pseudo-label/--no-pseudo-label", default=None,
              help="Grow the labelled set with confident predictions (any labelled method).")
@click.option("--pl-target", type=float, help="Val accuracy that switches growth on.")
@click.option("--pl-every", type=int, help="Grow every this many steps.")
@click.option("--pl-max", type=int, help="Most images moved per growth step.")
@click.option("--pl-threshold", type=float, help="Top probability an image needs.")
@click.option("--pl-balanced/--no-pl-balanced", default=None,
              help="Add the same number per class.")
@click.option("--pl-calibrate/--no-pl-calibrate", default=None,
              help="Temperature-scale confidences on the validation split first.")
@click.option("--option", "-o", "method_options", multiple=True, metavar="NAME=VALUE",
              help="Method option, e.g. -o tsa=exp -o threshold=0.9 (repeatable).")
@runs_option("Where run directories go")
@click.option("--progress/--no-progress", default=None,
              help="Live progress bar on a terminal; elsewhere (logs, CI) a plain line every "
                   "--log-every seconds.")
@LOG_OPTION
@click.option("--log-every", "log_every_s", type=float, metavar="SECONDS",
              help="Seconds between plain progress lines when stderr is no terminal (30).")
@click.option("--checkpoint-every", "checkpoint_every_s", type=float, metavar="SECONDS",
              help="Save checkpoints/last.pt at least this often (60; 0 = every step), so an "
                   "interruption loses at most this much training.")
@THREADS_OPTION
@clean_errors
def train(config_file: Path | None, resume: Path | None, runs_root: Path,
          method_options: tuple[str, ...], threads: int | None, **options: Any) -> None:
    """Train a model with METHOD on DATA and write a run directory.

    `--resume RUN` continues an interrupted run exactly; `--resume RUN --steps M` extends a
    run (finished or not) to M steps, the cosine schedule recomputed for the new length.
    """
    from tinyssl.config import load_config
    from tinyssl.pipeline import run_training
    from tinyssl.train.device import set_threads

    steps = options.get("steps")
    if resume is not None and (config_file or method_options or any(
            v is not None for k, v in options.items() if k != "steps")):
        raise click.UsageError("--resume continues a run with its own config; give no other "
                               "training options (but --steps, to extend it, and --threads).")
    cfg = None
    if resume is None:
        overrides = {**options, "method_options": parse_method_options(method_options)}
        cfg = load_config(config_file, overrides)
    set_threads(threads)
    run = run_training(cfg, runs_root, resume=resume,
                       extend_to=steps if resume is not None else None)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 writes the summary
        return
    summary = json.loads((run / "summary.json").read_text())
    acc = summary.get("test_acc")
    click.echo(f"{run}: test accuracy {'-' if acc is None else f'{100 * acc:.2f}%'}, "
               f"{summary['images_per_s']:,.0f} images/s")
    for warning in summary.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)


@click.command("eval")
@RUN_ARGUMENT
@click.option("--data", help="Evaluate on this source's test set instead of the run's.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@clean_errors
def evaluate(run: Path, data: str | None, device: str) -> None:
    """Accuracy, macro-F1, per-class precision/recall and a confusion-matrix PNG for RUN."""
    from tinyssl.pipeline.evaluate import evaluate_run

    report = evaluate_run(run, data=data, device=device)
    click.echo(f"accuracy {100 * report['accuracy']:.2f}%   macro-F1 "
               f"{100 * report['macro_f1']:.2f}%   ({report['images']} test images)")
    width = max(len(c) for c in report["per_class"])
    click.echo(f"{'class':<{width}}  precision  recall  support")
    for name, row in report["per_class"].items():
        click.echo(f"{name:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  "
                   f"{row['support']:7d}")
    click.echo(f"wrote {report['json']} and {report['png']}")
