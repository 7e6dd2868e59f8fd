"""One decorator every command shares: user-facing errors become one line, no traceback,
and each kind of ending its exit code (the one place that maps them).

Exit codes: 2 for bad usage or input (options, config, data, runs), 1 for failures while
running (training diverged, a FINN step failed, verification found a mismatch, the machine
refused a write: read-only, full, no permission), 130 when interrupted (a checkpoint was
saved first)."""

from __future__ import annotations

import errno
import functools
import shutil
from pathlib import Path
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

    return wrapper


def _free_mb(path: Path) -> str:
    for p in (path, *path.parents):
        try:
            return f"{shutil.disk_usage(p).free / 2**20:.1f} MB free"
        except OSError:
            continue
    return "free space unknown"


def os_error_sentence(e: OSError) -> str:
    """One sentence: which file, what the system said, what to do. Run directories this
    command created that hold nothing complete are removed first, and the sentence says so."""
    from tinyssl.runs import discard_unfinished_runs

    removed, kept = discard_unfinished_runs()
    path = Path(e.filename) if e.filename else None
    where = f"cannot write {path}" if path else "a file operation failed"
    code = e.errno
    if code == errno.EROFS:
        what = ("the file system is read-only: write somewhere else (another --runs or --out "
                "folder) or remount it read-write")
    elif code == errno.ENOSPC:
        what = (f"the disk is full ({_free_mb(path) if path else 'free space unknown'} on that "
                "file system): free some space or choose another --runs or --out folder")
    elif code == errno.EDQUOT:
        what = "your disk quota is used up: free some space or write elsewhere"
    elif code in (errno.EACCES, errno.EPERM):
        what = ("permission denied: choose a folder you may write (another --runs or --out "
                "folder) or change its permissions")
    else:
        what = (e.strerror or str(e)).rstrip(".").lower()
    tail = ""
    if kept:
        tail = (f"; the checkpoints in {kept[0]} are kept: the same command with "
                f"`--resume {kept[0]}` continues it")
    elif removed:
        tail = f"; the unfinished {removed[0]} was removed"
    return f"{where}: {what}{tail}."
