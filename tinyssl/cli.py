"""The `tinyssl` command line: one thin sub-command per pipeline stage.

Each stage module owns its click commands; this file only assembles them.
"""

from __future__ import annotations

import click

from tinyssl import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinyssl")
def main() -> None:
    """Train tiny quantized CNNs from few labels and take them to an FPGA."""


def _register() -> None:
    """Attach every stage's commands (kept in their own modules, imported lazily here)."""
    from tinyssl.data.commands import data
    from tinyssl.experiment_commands import demo, report, sweep
    from tinyssl.export.commands import export
    from tinyssl.fit_commands import fit
    from tinyssl.fpga.commands import fpga
    from tinyssl.ssl_commands import pretrain, probe, transfer
    from tinyssl.train.commands import evaluate, train
    from tinyssl.verify.commands import verify

    main.add_command(data)
    for command in (export, fpga, verify):
        main.add_command(command)
    for command in (train, evaluate, fit, pretrain, probe, transfer, demo, sweep, report):
        main.add_command(command)


_register()


if __name__ == "__main__":
    main()
