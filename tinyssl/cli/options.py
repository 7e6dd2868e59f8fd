"""Options and parsing several commands share (train, fit, pretrain, select)."""

from __future__ import annotations

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
