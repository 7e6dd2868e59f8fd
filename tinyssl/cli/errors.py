"""One decorator every command shares: user-facing errors become one line, no traceback,
and each kind of ending its exit code (the one place that maps them).

Exit codes: 2 for bad usage or input (options, config, data, runs), 1 for failures while
running (training diverged, a FINN step failed, verification found a mismatch, the machine
refused a write: read-only, full, no permission), 130 when interrupted by Ctrl-C (a training
loop saves a checkpoint first and names the command that continues it)."""

from __future__ import annotations

import functools
from typing import Any

import click

from tinyssl.data.types import DataError


class BadInput(click.ClickException):
    """Bad data, config, options or run directory: "Error: …" on one line, exit code 2."""

    exit_code = 2


def clean_errors(fn: Any) -> Any:
    """Turn the library's user-facing errors into click errors (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tinyssl.train import TrainingDiverged, TrainingInterrupted

        try:
            return fn(*args, **kwargs)
        except (ValueError, DataError, FileNotFoundError) as e:
            raise BadInput(str(e)) from None
        except TrainingDiverged as e:
            raise click.ClickException(str(e)) from None
        except TrainingInterrupted as e:  # Ctrl-C, after the checkpoint was saved
            click.echo(str(e), err=True)
            raise SystemExit(130) from None
        except OSError as e:  # the machine refused: exit 1, one sentence, no half-run left
            raise click.ClickException(os_error_sentence(e)) from None
        except KeyboardInterrupt:  # Ctrl-C anywhere else (click's own: "Aborted!", exit 1)
            click.echo(f"interrupted (Ctrl-C). Run `{_command()}` again to carry on: what had "
                       "finished is kept.", err=True)
            raise SystemExit(130) from None

    return wrapper


def os_error_sentence(e: OSError) -> str:
    """runs.describe_os_error's sentence, after removing the run directories this command
    created that hold nothing complete (and saying so, or how to resume a kept one)."""
    from tinyssl.runs import describe_os_error, discard_unfinished_runs

    removed, kept = discard_unfinished_runs()
    tail = ""
    if kept:
        tail = (f"; the checkpoints in {kept[0]} are kept: the same command with "
                f"`--resume {kept[0]}` continues it")
    elif removed:
        tail = f"; the unfinished {removed[0]} was removed"
    return f"{describe_os_error(e)}{tail}."


def _command() -> str:
    """'tinyssl select …', 'tinyssl fpga build …': the command being run, for a hint."""
    ctx, names = click.get_current_context(silent=True), []
    while ctx is not None and ctx.parent is not None:
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(["tinyssl", *names, "…"])
