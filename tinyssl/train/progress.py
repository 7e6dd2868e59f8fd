"""The live progress bar (rich): step, loss, learning rate, images/s, last val accuracy.

Shown only on an interactive terminal, so logs, tests and CI stay clean.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainProgress:
    def __init__(self, total: int, start: int, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Progress | None = None
        self.total, self.start = total, start

    def __enter__(self) -> TrainProgress:
        if self.enabled:
            self._bar = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                 transient=False)
            self._bar.start()
            self._task = self._bar.add_task("train", total=self.total, completed=self.start,
                                            info="")
        return self

    def update(self, step: int, loss: float, lr: float, images_per_s: float,
               val_acc: float | None) -> None:
        if self._bar is not None:
            val = "-" if val_acc is None else f"{100 * val_acc:.1f}%"
            info = f"loss {loss:.3f}  lr {lr:.2e}  {images_per_s:,.0f} img/s  val {val}"
            self._bar.update(self._task, completed=step, info=info)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
