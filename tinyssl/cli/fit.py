"""`tinyssl fit`: the teacher → student recipe as one command (see tinyssl/pipeline/fit.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import (
    LABELS_FILE_OPTION,
    LOG_OPTION,
    RESIZE_OPTION,
    SELECTION_FEATURES_OPTION,
    SELECTION_OPTION,
    SELECTION_ROUNDS_OPTION,
    THREADS_OPTION,
    parse_method_options,
    runs_option,
)


@click.command(short_help="The best few-label recipe end to end: float teacher → quantized "
               "student → FPGA estimates, beside the supervised baseline.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file of fit options; command-line options override it.")
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path),
              help="Continue an interrupted fit directory (finished stages are kept); only "
                   "--board, --target-fps, --hardware/--no-hardware and --progress/"
                   "--no-progress may change.")
@click.option("--data", help="Data source: digits, npz:PATH, folder:PATH, cifar10, ...")
@click.option("--labels", type=int, help="Total labelled images (spread over classes).")
@click.option("--labels-per-class", type=int, help="Labelled images per class.")
@LABELS_FILE_OPTION
@SELECTION_OPTION
@SELECTION_FEATURES_OPTION
@SELECTION_ROUNDS_OPTION
@RESIZE_OPTION
@click.option("--image-size", type=int, help="Resize images to this side length.")
@click.option("--unlabeled", type=float, help="Cap the unlabelled pool (count, or fraction).")
@click.option("--model", help="Quantized student preset, e.g. tiny-w2a2, cnv-w2a2.")
@click.option("--teacher-model", help="Float teacher (default: the student's float twin, "
              "e.g. tiny-float; resnet18 / wrn-28-2 on a GPU).")
@click.option("--width-mult", type=float, help="Scale every layer's width.")
@click.option("--steps", type=int, help="Most steps of the student (it stops early when its "
              "agreement with the teacher on held-out unlabelled images stops rising) and the "
              "steps of the baselines (default 2000).")
@click.option("--auto/--no-auto", default=None, help="Decide the options left open (views, "
              "teacher, SimCLR init, teacher length, student lr, temperature) by short trials "
              "on the label budget (default on; off: fixed defaults).")
@click.option("--trial-steps", type=int, help="Steps of each teacher trial (default 300).")
@click.option("--teacher-steps", type=int,
              help="Steps of the teacher (default: --teacher-scale × the student's).")
@click.option("--teacher-scale", type=float,
              help="Teacher steps per student step (default 1.5; a wider teacher gets fewer "
                   "steps at equal compute).")
@click.option("--pretrain-steps", type=int, help="SimCLR-initialise the teacher for this many "
              "steps first (default: decided; 0: off).")
@click.option("--batch-size", type=int, help="Labelled batch per step (default 32).")
@click.option("--teacher-method", help="Semi-supervised method of the teacher (default: "
              "decided between fixmatch and uda; also freematch, flexmatch).")
@click.option("--temperature", type=float, help="Distillation temperature (default: decided, "
              "else 2).")
@click.option("--student-lr", type=float, help="Learning rate of the stages that start from "
              "the float teacher (default: decided around 0.1, a third of the quantized presets' "
              "0.3: they fine-tune).")
@click.option("--board", help="FPGA board or part for the estimates (default Pynq-Z1).")
@click.option("--target-fps", type=float, help="Images/s the accelerator is folded for.")
@click.option("--hardware/--no-hardware", default=None,
              help="Export, FINN estimates and verification of the student (default on).")
@click.option("--baseline/--no-baseline", default=None,
              help="Train the supervised baseline on the same labels (default on).")
@click.option("--seed", type=int)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--option", "-o", "method_options", multiple=True, metavar="NAME=VALUE",
              help="View option for every stage, e.g. -o flip=true -o randaugment_policy=mild.")
@runs_option("Where the fit directory goes")
@click.option("--progress/--no-progress", default=None, help="Live progress bars.")
@LOG_OPTION
@THREADS_OPTION
@clean_errors
def fit(config_file: Path | None, resume: Path | None, runs_root: Path,
        method_options: tuple[str, ...], threads: int | None, **options: Any) -> None:
    """Few labels → float teacher (FixMatch) → quantized student (float init + distillation)
    → FINN estimates → bit-exact check, beside the supervised baseline; prints and writes
    what each stage gained (fit.md)."""
    from tinyssl.pipeline.fit import FitConfig, prepare_fit, run_fit

    if resume is not None and (config_file or method_options):
        raise click.UsageError("--resume continues a fit with its own config; give no --config "
                               "or -o options.")
    cfg = None if resume is not None else FitConfig.load(
        config_file, {**options, "method_options": parse_method_options(method_options)})
    cfg, fit_dir, facts = prepare_fit(cfg, runs_root, resume, options)
    from tinyssl.train.device import set_threads  # torch: only once every check has passed

    set_threads(threads)
    result = run_fit(cfg, fit_dir, click.echo, facts)
    from tinyssl.pipeline.fit_report import fit_markdown

    click.echo(fit_markdown(result))
    click.echo(f"wrote {result['fit_dir']}/fit.md and fit.json")
    click.echo(next_commands(Path(result["fit_dir"]), result))


def next_commands(fit_dir: Path, result: dict[str, Any]) -> str:
    """What to run next on the student (every command that takes a RUN takes FIT for it);
    export and verify only when fit's hardware stage did not run them already."""
    steps = [] if result.get("verify") else [
        (f"tinyssl export {fit_dir}", "QONNX (FINN) and QCDQ ONNX (onnxruntime) files"),
        (f"tinyssl verify {fit_dir}", "Brevitas, QONNX, FINN and onnxruntime agree bit-exactly")]
    steps += [(f"tinyssl predict {fit_dir} IMAGES...", "classify new images into a CSV"),
              (f"tinyssl fpga build {fit_dir} --board {result['config']['board']}",
               "FINN estimates for another board or --target-fps")]
    width = max(len(cmd) for cmd, _ in steps)
    return "\n".join([f"next (each command takes the fit directory for its student "
                      f"{fit_dir / 'student'}, the network that ships):",
                      *(f"  {cmd:<{width}}  # {why}" for cmd, why in steps),
                      f"  every stage's numbers: {fit_dir / 'fit.md'}"])
