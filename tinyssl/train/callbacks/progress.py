"""Training progress: a live bar (rich) on a terminal, a plain line every few seconds
elsewhere (logs, CI, nohup): step, loss, learning rate, images/s, last val accuracy, ETA."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tinyssl.train.callbacks.base import Callback

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


def _duration(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class TrainProgress:
    def __init__(self, total: int, start: int, enabled: bool, log_every_s: float = 30.0) -> None:
        self.enabled = enabled
        self.live = enabled and sys.stderr.isatty()
        self._bar: Progress | None = None
        self.total, self.start, self.log_every_s = total, start, log_every_s
        self._t0 = self._last_line = time.monotonic()

    def __enter__(self) -> TrainProgress:
        if self.live:
            self._bar = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                 transient=False)
            self._bar.start()
            self._task = self._bar.add_task("train", total=self.total, completed=self.start,
                                            info="")
        return self

    def update(self, step: int, loss: float, lr: float, images_per_s: float,
               val_acc: float | None) -> None:
        if not self.enabled:
            return
        val = "-" if val_acc is None else f"{100 * val_acc:.1f}%"
        info = f"loss {loss:.3f}  lr {lr:.2e}  {images_per_s:,.0f} img/s  val {val}"
        if self._bar is not None:
            self._bar.update(self._task, completed=step, info=info)
            return
        now = time.monotonic()
        if now - self._last_line >= self.log_every_s or step == self.total:
            self._last_line = now
            done = step - self.start
            eta = (self.total - step) * (now - self._t0) / max(done, 1)
            print(f"step {step}/{self.total}  {info}  ETA {_duration(eta)}", file=sys.stderr,
                  flush=True)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()


class ProgressCallback(Callback):
    """The bar (or plain lines) of the main process, updated after every step."""

    order = 0  # shows the state before this step's validation, as it always has

    def __init__(self) -> None:
        self.bar: TrainProgress | None = None
        self.val: float | None = None

    def on_start(self, trainer: Trainer) -> None:
        cfg = trainer.cfg
        self.bar = TrainProgress(cfg.steps, trainer.step, cfg.progress and trainer.dist.main,
                                 cfg.log_every_s).__enter__()

    def after_step(self, trainer: Trainer) -> None:
        assert self.bar is not None
        self.bar.update(trainer.step, trainer.last_loss, trainer.opt.param_groups[0]["lr"],
                        trainer.images_per_s, self.val)

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.val = record.get("val_acc", self.val)

    def teardown(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        self.val = checkpoint["last_val_acc"]
