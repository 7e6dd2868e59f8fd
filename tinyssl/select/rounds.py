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

from typing import Any

import numpy as np
import torch

from tinyssl.select.rules import select

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
        from tinyssl.probe import encoder_features
        from tinyssl.train.evaluate import predict_probs

        x = pool_x[torch.as_tensor(unlabeled, device=pool_x.device)]
        features = encoder_features(net.encoder, x)
        probs = predict_probs(net, x).cpu().numpy()
        size = min(self.sizes[k], len(unlabeled))  # a small pool may run out
        return select("uncertain", features, size, seed=self.seed + k, probs=probs).index

    def event(self, step: int, k: int, true_labels: np.ndarray, classes: int) -> dict[str, Any]:
        counts = np.bincount(true_labels, minlength=classes)
        return {"step": step, "round": k + 1, "added": int(len(true_labels)),
                "per_class": counts.tolist()}
