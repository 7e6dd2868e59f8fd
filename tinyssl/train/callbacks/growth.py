"""Pseudo-label growth, as in the project's origin: once validation accuracy reaches a
target, every K steps move up to M confident unlabelled images into the labelled set.

Growth is a training callback, not a loss, so it composes with any method that uses labels
(`--pseudo-label` with `uda`, `fixmatch`, ...); `--method pseudolabel` is growth on top of
plain supervised training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyssl.runs import append_jsonl
from tinyssl.train.callbacks.base import Callback
from tinyssl.train.evaluate import predict_probs

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


@dataclass
class PseudoLabelGrowth:
    """Selection rule. `target` val accuracy switches growth on (and it stays on)."""

    num_classes: int
    target: float = 0.7
    every: int = 100
    max_add: int = 100
    threshold: float = 0.9
    balanced: bool = False
    active: bool = False

    def due(self, step: int, val_acc: float | None) -> bool:
        """Called after `step` steps; turns growth on the first time val_acc hits target."""
        if not self.active and val_acc is not None and val_acc >= self.target:
            self.active = True
        return self.active and step % self.every == 0

    def select(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (into the scored pool) and predicted labels of the images to move.

        Most confident first. Balanced mode adds the same number k to every class, k = the
        fewest confident candidates any class has (at most max_add // num_classes), so nothing
        is added while some class has none: capping each class separately still let easy
        classes grow to 20x the hard ones' labels and biased the classifier against them.
        """
        conf, pred = probs.max(1), probs.argmax(1)
        order = np.argsort(-conf, kind="stable")
        order = order[conf[order] > self.threshold]
        if self.balanced:
            by_class = [order[pred[order] == c] for c in range(self.num_classes)]
            k = min(max(1, self.max_add // self.num_classes), *(len(o) for o in by_class))
            order = np.concatenate([o[:k] for o in by_class]).astype(np.int64)
        else:
            order = order[: self.max_add]
        return order, pred[order]

    def event(self, step: int, labels: np.ndarray, true: np.ndarray) -> dict:
        """One pseudolabels.jsonl record: added and wrong per class (true = -1: unknown)."""
        known = true >= 0
        added = np.bincount(labels, minlength=self.num_classes)
        wrong = np.bincount(labels[known & (labels != true)], minlength=self.num_classes)
        return {"step": step, "added": added.tolist(), "wrong": wrong.tolist(),
                "unknown": int((~known).sum())}

    def state_dict(self) -> dict[str, bool]:
        return {"active": self.active}

    def load_state_dict(self, state: dict[str, bool]) -> None:
        self.active = bool(state["active"])


class Growth(Callback):
    """Runs PseudoLabelGrowth on the trainer's pool (records in pseudolabels.jsonl)."""

    order = 20

    def __init__(self) -> None:
        self.rule: PseudoLabelGrowth | None = None
        self.last_val: float | None = None

    def setup(self, trainer: Trainer) -> None:
        cfg = trainer.cfg
        if not trainer.method.uses_labeled:
            raise ValueError(f"pseudo-label growth needs a method that uses labels, not "
                             f"{cfg.method}.")
        self.rule = PseudoLabelGrowth(trainer.bundle.num_classes, cfg.pl_target, cfg.pl_every,
                                      cfg.pl_max, cfg.pl_threshold, cfg.pl_balanced)

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.last_val = record.get("val_acc", self.last_val)

    def after_step(self, trainer: Trainer) -> None:
        assert self.rule is not None
        if self.rule.due(trainer.step, self.last_val):
            self.grow(trainer)

    def grow(self, trainer: Trainer) -> None:
        """Move confident unlabelled images (and their predicted labels) to the labelled set."""
        assert self.rule is not None
        pool, dist = trainer.pool, trainer.dist
        chosen = None
        if dist.main and len(pool.unlabeled_idx):
            probs = predict_probs(trainer.eval_net, pool.images(pool.unlabeled_idx))
            chosen = self.rule.select(probs.cpu().numpy())
        chosen = dist.broadcast(chosen)
        if chosen is None or not len(chosen[0]):
            return
        positions, labels = chosen
        moved = pool.unlabeled_idx[positions]
        if dist.main:
            append_jsonl(trainer.run / "pseudolabels.jsonl",
                         self.rule.event(trainer.step, labels, pool.y[moved]))
        trainer.move_to_labeled(positions, labels)

    def state_dict(self) -> dict[str, Any]:
        assert self.rule is not None
        return {"growth": self.rule.state_dict()}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        assert self.rule is not None
        self.rule.load_state_dict(checkpoint["growth"])
        self.last_val = checkpoint["last_val_acc"]
