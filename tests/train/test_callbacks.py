"""The callback interface: a feature plugs in without touching the loop (an early stop and a
logger here), and the trainer checkpoints its state without knowing what it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from tinyssl.config import load_config
from tinyssl.train.callbacks.base import Callback
from tinyssl.train.loop import Trainer
from tinyssl.train.run import run_config, train

CFG = {"data": "digits", "labels_per_class": 3, "steps": 12, "eval_every": 2,
       "batch_size": 16, "progress": False, "device": "cpu", "checkpoint_every_s": 1e9}


class StopAfter(Callback):
    """Early stopping's shape: watch the logged validation records, stop the loop."""

    def __init__(self, records: int) -> None:
        self.records, self.seen, self.steps = records, [], []

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.seen.append(record)

    def after_step(self, trainer: Trainer) -> None:
        self.steps.append(trainer.step)
        if len(self.seen) >= self.records:
            trainer.request_stop()

    def state_dict(self) -> dict[str, Any]:
        return {"stop_after_seen": len(self.seen)}


def test_a_callback_sees_every_record_stops_the_loop_and_is_checkpointed(tmp_path: Path
                                                                         ) -> None:
    torch.set_num_threads(1)
    cb = StopAfter(records=3)
    run = train(run_config(load_config(None, CFG), None, None), tmp_path, extra=[cb])
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert cb.seen == metrics and [r["step"] for r in metrics] == [2, 4, 6]
    assert cb.steps == [1, 2, 3, 4, 5, 6]  # stopped after step 6 of 12
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["test_acc"] is not None
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    assert last["step"] == 6 and last["stop_after_seen"] == 3
