"""One decorator every command shares: user-facing errors become one line, no traceback."""

from __future__ import annotations

import functools
from typing import Any

import click

from tinyssl.data.types import DataError


def clean_errors(fn: Any) -> Any:
    """Turn the library's user-facing errors into click errors (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tinyssl.train import TrainingDiverged

        try:
            return fn(*args, **kwargs)
        except (ValueError, DataError, FileNotFoundError) as e:
            raise click.UsageError(str(e)) from None
        except TrainingDiverged as e:
            raise click.ClickException(str(e)) from None

    return wrapper
