"""Options, arguments and parsing several commands share (train, fit, pretrain, select, sweep;
the RUN of predict, eval, export, verify, probe and fpga build)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from tinyssl.config import LOGGERS, SELECTIONS
from tinyssl.data.images import RESIZE_MODES


def parse_method_options(values: tuple[str, ...]) -> dict[str, Any] | None:
    """`-o tsa=exp -o threshold=0.9` → {"tsa": "exp", "threshold": 0.9} (YAML scalars)."""
    if not values:
        return None
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"method option '{item}' must look like name=value.")
        out[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return out


def runs_option(goes: str) -> Callable[[Any], Any]:
    """--runs: the folder under which train, pretrain, fit, sweep, transfer and demo put
    what they make (`goes`: what goes there), `runs` by default."""
    return click.option("--runs", "runs_root", type=click.Path(file_okay=False, path_type=Path),
                        default=Path("runs"), show_default=True, help=f"{goes}.")


#: Shared with `tinyssl fit` (no default here: an unset option leaves the YAML's value).
RESIZE_OPTION = click.option(
    "--resize", type=click.Choice(RESIZE_MODES),
    help="How non-square images become square before resizing: stretched (squash, the "
         "default), centre-cropped, or padded with black. Saved with the run, so eval and "
         "predict treat images the same way.")
LABELS_FILE_OPTION = click.option(
    "--labels-file", help="CSV of the images to label (from `tinyssl select`; label column "
    "filled in, or empty to use the source's labels) instead of a random draw.")
SELECTION_OPTION = click.option(
    "--selection", type=click.Choice(SELECTIONS),
    help="Simulated labelling: pick the --labels/--labels-per-class images by this rule "
         "(uniform: at random, without class balance); their labels come from the source. "
         "Default random: the class-stratified draw.")
SELECTION_FEATURES_OPTION = click.option(
    "--selection-features", help="Features for --selection: simclr (trained on the spot, "
    "cached), pixels, or a pretrain run directory.")
SELECTION_ROUNDS_OPTION = click.option(
    "--selection-rounds", type=int, help="Spend the budget in this many rounds: the first by "
    "--selection, the others during training by the run's own uncertainty (in `fit`: the "
    "teacher's).")
THREADS_OPTION = click.option(
    "--threads", type=int, help="CPU threads for torch (default: the available cores shared "
    "with other tinyssl processes running now).")
LOG_OPTION = click.option(
    "--log", type=click.Choice(LOGGERS), help="tensorboard (default): also write TensorBoard "
    "event files into the run directory (`tensorboard --logdir runs`); none: metrics.jsonl "
    "only.")


def run_or_fit(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A fit directory stands for its student (pipeline/fit_dir.py), said in one line."""
    from tinyssl.cli.errors import BadInput
    from tinyssl.pipeline.fit_dir import resolve_run

    if value is None:
        return None
    try:
        run, note = resolve_run(value)
    except ValueError as e:
        raise BadInput(str(e)) from None
    if note:
        click.echo(f"note: {note}", err=True)
    return run


#: The RUN argument of every command that reads a trained run (predict, eval, export,
#: verify, probe, fpga build): a run directory, or a fit directory (its student).
RUN_ARGUMENT = click.argument(
    "run", type=click.Path(exists=True, file_okay=False, path_type=Path), callback=run_or_fit)
