"""Labelling rounds inside one run (the simulated active-learning loop).

With `selection_rounds: R`, a run's label budget B is spent in R rounds: the first B/R
images are picked before training by the cold-start rule (`selection`), and after each
further R-th of the steps the run picks the next B/R by the `uncertain` rule on its own
current network (margin + diversity on its encoder features), and the oracle reveals their
true labels. The total is B labels, so the run compares with a one-shot selection or a
random draw of the same budget. Picks are recorded in `RUN/rounds.jsonl`, and the whole
labelled set after each round in `RUN/labels.csv` (a labels file: `fit` trains its student
and baseline on the teacher's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tinyssl.data.labels_file import write_labels_file
from tinyssl.runs import append_jsonl
from tinyssl.select.rules import select
from tinyssl.train.callbacks.base import Callback
from tinyssl.train.evaluate import encoder_features, predict_probs

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer

ROUNDS_LABELS_FILE = "labels.csv"


def round_sizes(budget: int, rounds: int) -> list[int]:
    """B split into R parts as evenly as possible, the larger ones first."""
    base, extra = divmod(budget, rounds)
    return [base + (i < extra) for i in range(rounds)]


class LabellingRounds:
    """When the next rounds are due (every steps/R) and what they pick."""

    def __init__(self, budget: int, rounds: int, steps: int, seed: int) -> None:
        self.sizes = round_sizes(budget, rounds)
        self.at = {round(steps * k / rounds): k for k in range(1, rounds)}
        self.seed = seed

    def due(self, step: int) -> int | None:
        """The round (1, 2, …) that starts after `step`, else None."""
        return self.at.get(step)

    @torch.no_grad()
    def pick(self, net: torch.nn.Module, pool_x: torch.Tensor, unlabeled: np.ndarray,
             k: int) -> np.ndarray:
        """Positions into `unlabeled` of round k's images: the least certain, spread out."""
        x = pool_x[torch.as_tensor(unlabeled, device=pool_x.device)]
        features = encoder_features(net.encoder, x)
        probs = predict_probs(net, x).cpu().numpy()
        size = min(self.sizes[k], len(unlabeled))  # a small pool may run out
        return select("uncertain", features, size, seed=self.seed + k, probs=probs).index

    def event(self, step: int, k: int, true_labels: np.ndarray, classes: int) -> dict[str, Any]:
        counts = np.bincount(true_labels, minlength=classes)
        return {"step": step, "round": k + 1, "added": int(len(true_labels)),
                "per_class": counts.tolist()}


class RoundsCallback(Callback):
    """Runs the labelling rounds of `selection_rounds` > 1 inside a training run."""

    order = 30

    def __init__(self) -> None:
        self.rounds: LabellingRounds | None = None

    def setup(self, trainer: Trainer) -> None:
        from tinyssl.select import budget_of

        cfg = trainer.cfg
        budget = budget_of(cfg.labels, cfg.labels_per_class, trainer.bundle.num_classes)
        self.rounds = LabellingRounds(budget, cfg.selection_rounds, cfg.steps, cfg.seed)

    def after_step(self, trainer: Trainer) -> None:
        assert self.rounds is not None
        if (k := self.rounds.due(trainer.step)) is not None:
            self.label_round(trainer, k)

    def label_round(self, trainer: Trainer, k: int) -> None:
        """The oracle labels round k's picks (their true labels join the labelled set)."""
        assert self.rounds is not None
        pool, dist = trainer.pool, trainer.dist
        positions = None
        # the oracle knows the labels of training images only, not of the source's own
        # unlabelled ones
        known = np.flatnonzero(pool.y[pool.unlabeled_idx] >= 0)
        if dist.main and len(known):
            positions = known[self.rounds.pick(trainer.eval_net, pool.x,
                                               pool.unlabeled_idx[known], k)]
        positions = dist.broadcast(positions)
        if positions is None:
            return
        labels = pool.y[pool.unlabeled_idx[positions]]
        if dist.main:
            append_jsonl(trainer.run / "rounds.jsonl", self.rounds.event(
                trainer.step, k, labels, trainer.bundle.num_classes))
        trainer.move_to_labeled(positions, labels)
        if dist.main:  # the whole labelled set so far, for the runs that build on this one
            write_labels_file(trainer.run / ROUNDS_LABELS_FILE, trainer.bundle,
                              pool.labeled_idx, pool.labeled_y)

    def summary(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        """The whole budget (the oracle's labels), not just round one."""
        assert self.rounds is not None
        summary.update(labels=sum(self.rounds.sizes),
                       labels_used=sum(self.rounds.sizes) + len(trainer.split.val),
                       label_source=f"{trainer.split.source}×{len(self.rounds.sizes)}")
