"""The callback interface: every training feature beyond "one step" plugs in here.

Modelled on USB/semilearn's hooks and Lightning's Callback: the loop only builds, steps and
dispatches, so validation, checkpoints, pseudo-label growth, labelling rounds, progress and
the run summary are callbacks, and a new feature (early stopping, a TensorBoard logger,
calibrated growth) is a new callback file, not an edit of the loop.

Callbacks run in ascending `order` (ties: the order given). A callback's `state_dict` holds
top-level checkpoint keys of its own (e.g. `best_val_acc`), and `load_state_dict` receives
the whole checkpoint, so `last.pt` keeps the key layout older versions wrote and resumes
across versions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


class Callback:
    """Does nothing by default; override the hooks a feature needs."""

    #: Dispatch position: progress 0, fast quant 5, validation 10, growth 20, rounds 30,
    #: checkpoint 40, test summary 90. Lower runs first.
    order: int = 50

    def setup(self, trainer: Trainer) -> None:
        """Model, method, optimiser and streams exist, the run directory does not yet:
        check the configuration (raise ValueError to refuse the run) and size yourself."""

    def on_start(self, trainer: Trainer) -> None:
        """Before the first step of this process (after a resume restored the state)."""

    def after_step(self, trainer: Trainer) -> None:
        """After every optimiser step (`trainer.step` is the number of steps done). Call
        `trainer.request_stop()` to end training after this step (with a summary)."""

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Every scalar record written to metrics.jsonl (loggers see all of them)."""

    def summary(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        """Fill in your fields of summary.json (main process only, after training)."""

    def teardown(self, trainer: Trainer) -> None:
        """After training, also when it failed or was interrupted."""

    def state_dict(self) -> dict[str, Any]:
        """Top-level checkpoint keys this callback owns (each key unique to it)."""
        return {}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        """Restore from the whole checkpoint (read your keys)."""
