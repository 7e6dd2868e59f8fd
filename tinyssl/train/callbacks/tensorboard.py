"""TensorBoard event files in the run directory, beside metrics.jsonl, so that
`tensorboard --logdir runs` shows every run's curves live (USB, lightly and solo-learn users
watch their runs this way).

What goes in: every metrics.jsonl record (the method's losses, lr, images/s, validation
accuracy, the labelled-set size), the labels added by pseudo-label growth or labelling rounds
(and how many of them disagree with the known label), and at the end the test metrics with
the confusion matrix as an image and a table. torch.utils.tensorboard is imported only when
a run starts, so `tinyssl --help` stays fast.

Resuming appends a new event file to the same directory with `purge_step`: TensorBoard then
drops what the interrupted process logged after the checkpoint the run resumed from, so the
curves do not double. The files are extra: the run's other files, weights and random
streams are the same with `log: none` (tests/train/test_tensorboard.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyssl.train.callbacks.base import Callback

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

    from tinyssl.train.loop import Trainer

#: metrics.jsonl keys → TensorBoard tags (grouped by the part before "/"); the method's own
#: scalars (loss, loss_x, mask, …) go to train/<key>.
TAGS = {"val_acc": "val/acc", "lr": "train/lr", "images_per_s": "speed/images_per_s",
        "train_time_s": "speed/train_time_s", "labeled": "labels/labeled"}
#: summary.json fields → scalars at the run's last step.
SUMMARY_TAGS = {"test_acc": "test/acc", "test_macro_f1": "test/macro_f1",
                "chance_acc": "test/chance_acc", "best_val_acc": "val/best_acc"}


def open_writer(directory: Path, purge_step: int | None = None) -> SummaryWriter:
    """A SummaryWriter on `directory` (which must exist: a writer creates it otherwise).
    TensorBoard writes its event files itself, appending records with their own CRCs: its
    reader stops at a record a crash cut short, so they are not routed through
    atomic_write_bytes (rewriting a growing log per record would be quadratic).
    `purge_step`: TensorBoard ignores the events earlier files hold at this step or later."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(directory), purge_step=purge_step)


def write_events(directory: Path, scalars: dict[str, float], texts: dict[str, str],
                 step: int = 0) -> None:
    """One-off scalars and (markdown) texts at `step`, replacing what earlier calls wrote at
    this step or later: `tinyssl fit`'s stage table, rewritten on every `--resume`."""
    writer = open_writer(directory, purge_step=step)
    try:
        for tag, value in scalars.items():
            writer.add_scalar(tag, value, step)
        for tag, text in texts.items():
            writer.add_text(tag, text, step)
    finally:
        writer.close()


def confusion_image(matrix: np.ndarray, cell: int = 0) -> np.ndarray:
    """Row-normalised confusion matrix (rows: true class, columns: predicted) as an HWC
    uint8 heat map, white (0) to dark blue (every image of the row), `cell` pixels a class.
    Drawn with numpy: the figure code (matplotlib, tinyssl.report) sits above the trainer,
    and the class names and counts go beside it as a table."""
    m = np.asarray(matrix, dtype=np.float64)
    share = m / np.maximum(m.sum(1, keepdims=True), 1)
    cell = cell or max(8, 256 // max(1, len(m)))
    white, blue = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])
    rgb = white + share[..., None] * (blue - white)
    return np.kron(rgb, np.ones((cell, cell, 1))).round().astype(np.uint8)


def confusion_table(matrix: list[list[int]], classes: list[str]) -> str:
    """The confusion matrix as a markdown table (TensorBoard's text tab renders it)."""
    rows = ["| true \\ predicted | " + " | ".join(classes) + " |",
            "| --- " * (len(classes) + 1) + "|"]
    rows += [f"| {c} | " + " | ".join(str(v) for v in row) + " |"
             for c, row in zip(classes, matrix, strict=True)]
    return "\n".join(rows)


class TensorBoard(Callback):
    """Writes RUN/events.out.tfevents.* on the main process (config `log: tensorboard`)."""

    #: Last: after growth (20) and labelling rounds (30) moved images at a step, and after
    #: the verdict (90) filled in the test metrics of summary.json.
    order = 95

    def __init__(self) -> None:
        self.writer: SummaryWriter | None = None
        self.labeled = 0

    def on_start(self, trainer: Trainer) -> None:
        if not trainer.dist.main:
            return
        # The run directory exists now. A resumed run continues after trainer.step: what
        # the interrupted process logged later than its checkpoint is purged.
        self.writer = open_writer(trainer.run, purge_step=trainer.step + 1)
        self.labeled = len(trainer.pool.labeled_idx)

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = record["step"]
        for key, value in record.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(TAGS.get(key, f"train/{key}"), value, step)
        self.writer.flush()  # a validation's worth at a time: the live view keeps up

    def after_step(self, trainer: Trainer) -> None:
        """Images moved to the labelled set at this step (appended by Pool.move_to_labeled):
        how many, and how many of their labels differ from the known true one."""
        pool = trainer.pool
        if self.writer is None or len(pool.labeled_idx) == self.labeled:
            return
        new = slice(self.labeled, len(pool.labeled_idx))
        given, true = pool.labeled_y[new], pool.y[pool.labeled_idx[new]]
        wrong = int(((true >= 0) & (given != true)).sum())
        self.writer.add_scalar("labels/added", len(given), trainer.step)
        self.writer.add_scalar("labels/added_wrong", wrong, trainer.step)
        self.labeled = len(pool.labeled_idx)

    def teardown(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def summary(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        """Test metrics at the last step (the training writer is closed by now: teardown
        runs before the summary, so these go to a second event file)."""
        writer = open_writer(trainer.run)
        try:
            for key, tag in SUMMARY_TAGS.items():
                if summary.get(key) is not None:
                    writer.add_scalar(tag, summary[key], trainer.step)
            if summary.get("confusion_matrix") is not None:
                cm, classes = summary["confusion_matrix"], summary["classes"]
                writer.add_image("test/confusion_matrix", confusion_image(np.asarray(cm)),
                                 trainer.step, dataformats="HWC")
                writer.add_text("test/confusion_matrix", confusion_table(cm, classes),
                                trainer.step)
            for i, warning in enumerate(summary.get("warnings", [])):
                writer.add_text(f"warnings/{i}", warning, trainer.step)
        finally:
            writer.close()
