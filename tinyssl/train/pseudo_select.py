"""Which unlabelled images pseudo-label growth moves: a pure function of the probabilities.

Kept apart from the trainer (and from where its growth hook lives) so that calibrated and
uncalibrated confidences go through the same rule and can be compared on one pool.
"""

from __future__ import annotations

import numpy as np


def select_confident(probs: np.ndarray, threshold: float, max_add: int, num_classes: int,
                     balanced: bool) -> tuple[np.ndarray, np.ndarray]:
    """Positions (rows of `probs`) and predicted labels of the images to move.

    Most confident first, top probability above `threshold`, at most `max_add`. Balanced:
    the same number k from the top of every class, k = the fewest confident candidates any
    class has (at most max_add // num_classes), so nothing is added while some class has
    none: capping each class separately still let easy classes grow to 20x the hard ones'
    labels and biased the classifier against them.
    """
    conf, pred = probs.max(1), probs.argmax(1)
    order = np.argsort(-conf, kind="stable")
    order = order[conf[order] > threshold]
    if balanced:
        by_class = [order[pred[order] == c] for c in range(num_classes)]
        k = min(max(1, max_add // num_classes), *(len(o) for o in by_class))
        order = np.concatenate([o[:k] for o in by_class]).astype(np.int64)
    else:
        order = order[:max_add]
    return order, pred[order]


def added_and_wrong(labels: np.ndarray, true: np.ndarray, num_classes: int) -> dict:
    """Per predicted class: images added and how many of them were wrong (true = -1:
    unknown, counted apart)."""
    known = true >= 0
    return {"added": np.bincount(labels, minlength=num_classes).tolist(),
            "wrong": np.bincount(labels[known & (labels != true)],
                                 minlength=num_classes).tolist(),
            "unknown": int((~known).sum())}
