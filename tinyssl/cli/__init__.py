"""The `tinyssl` command line: one thin sub-command per pipeline stage.

Every click command lives in this package, one file per command group (shared options in
options.py, exit codes in errors.py); this file only names them. A command's module is
imported when that command runs (or shows its help), so `tinyssl --help` and
`--version` start in a fraction of a second instead of importing torch, Brevitas and FINN.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import click

from tinyssl import __version__
from tinyssl.train.threads import choose_wait_policy

#: name → (module, attribute, one-line help shown by `tinyssl --help`). The help line is
#: kept here so listing the commands imports none of them; a test checks it matches the
#: command's own docstring.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "data": ("tinyssl.cli.data", "data",
             "Inspect data sources (classes, counts, sample images)."),
    "train": ("tinyssl.cli.train", "train",
              "Train a model with METHOD on DATA and write a run directory."),
    "eval": ("tinyssl.cli.train", "evaluate",
             "Accuracy, macro-F1, per-class precision/recall and a confusion-matrix PNG for "
             "RUN."),
    "fit": ("tinyssl.cli.fit", "fit",
            "The best few-label recipe end to end: float teacher → quantized student → FPGA "
            "estimates, beside the supervised baseline."),
    "predict": ("tinyssl.cli.predict", "predict",
                "Classify new images with RUN's exported network; writes a CSV."),
    "select": ("tinyssl.cli.select", "select_command",
               "Pick the images of DATA worth labelling; writes a CSV to fill in and a "
               "contact sheet."),
    "label": ("tinyssl.cli.label", "label",
              "Label the images of a selection CSV in a local browser page; every answer is "
              "saved to the CSV at once."),
    "pretrain": ("tinyssl.cli.ssl", "pretrain", "Self-supervised pre-training."),
    "probe": ("tinyssl.cli.ssl", "probe",
              "Linear probe and cosine kNN on RUN's frozen encoder with a few labels of DATA, "
              "beside a random encoder's."),
    "transfer": ("tinyssl.cli.ssl", "transfer",
                 "Pre-train on each source, fine-tune on each target: the transfer matrix."),
    "export": ("tinyssl.cli.export", "export",
               "Export RUN's trained network to QONNX (for FINN) and QCDQ ONNX (for "
               "onnxruntime)."),
    "fpga": ("tinyssl.cli.fpga", "fpga",
             "FINN dataflow builds: resource/FPS estimates everywhere, bitstreams with Vivado."),
    "verify": ("tinyssl.cli.verify", "verify",
               "Check Brevitas, QONNX, FINN and onnxruntime compute the same logits on RUN's "
               "test set."),
    "demo": ("tinyssl.cli.experiment", "demo",
             "The main job on the embedded digits: supervised vs UDA on the same labels, to "
             "the FPGA."),
    "sweep": ("tinyssl.cli.experiment", "sweep",
              "Run a YAML grid of experiments (resumable), then write results.csv and the "
              "report."),
    "report": ("tinyssl.cli.experiment", "report",
               "Tables (mean ± std over seeds) and plots from every finished run under "
               "RUNS_DIR."),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use (click's documented
    lazy-loading pattern, with the listing served from COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        choose_wait_policy()  # before the command's module imports torch
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, _, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinyssl")
def main() -> None:
    """Train tiny quantized CNNs from few labels and take them to an FPGA."""
    warnings.formatwarning = _one_line_warning


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any,
                      **__: Any) -> str:
    """Warnings a user should read (skipped corrupt images) as one plain line, not Python's
    'file:line: UserWarning' with the source line under it."""
    kind = "" if category is UserWarning else f" ({category.__name__})"
    return f"warning{kind}: {message}\n"


if __name__ == "__main__":
    main()
