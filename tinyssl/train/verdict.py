"""Say when a result is poor, in one sentence a user can act on.

A run that ends near chance, or below the supervised baseline on the same labels, looks like
any other number in a table; these checks put the warning in the terminal, in
`summary.json` and in reports.
"""

from __future__ import annotations

import numpy as np

#: "Near chance": less than this share of the way from chance to 100 %.
NEAR_CHANCE_SHARE = 0.25
#: Below the supervised baseline by more than this (accuracy, absolute) counts as a loss.
BASELINE_MARGIN = 0.005


def chance_accuracy(y: np.ndarray, num_classes: int) -> float:
    """What always guessing the largest class scores (1/C on balanced data)."""
    if len(y) == 0:
        return 1.0 / num_classes
    return max(1.0 / num_classes, float(np.bincount(y, minlength=num_classes).max() / len(y)))


def near_chance(acc: float, chance: float) -> bool:
    return acc < chance + NEAR_CHANCE_SHARE * (1.0 - chance)


def result_warnings(acc: float | None, chance: float, split: str = "test",
                    baseline: float | None = None) -> list[str]:
    """Zero, one or two sentences about `acc` (a fraction) on `split`."""
    if acc is None or np.isnan(acc):
        return []
    out = []
    if near_chance(acc, chance):
        out.append(f"{split} accuracy {100 * acc:.1f} % is near chance ({100 * chance:.1f} %): "
                   "train longer, or use more labels.")
    if baseline is not None and acc < baseline - BASELINE_MARGIN:
        out.append(f"{split} accuracy {100 * acc:.1f} % is below the supervised baseline's "
                   f"{100 * baseline:.1f} % on the same labels: this method did not help here.")
    return out


def pretext_warnings(method: str, last: dict[str, float], chance: dict[str, float],
                     reason: str) -> list[str]:
    """One sentence per task accuracy (`last`: the run's last logged values) that ended near
    its `chance` level: the pretext's task was never solved, so the encoder learnt from it no
    more than a random one holds (rotation on blood cells and aerial images, issue 30)."""
    out = []
    for key, level in chance.items():
        acc = last.get(key)
        if acc is not None and near_chance(acc, level):
            out.append(f"{method}: its task accuracy ({key} {100 * acc:.1f} %) stayed near "
                       f"chance ({100 * level:.1f} %): {reason}; the encoder is likely no "
                       "better than a random one — probe it against the floor (`tinyssl "
                       "probe`) or pre-train with simclr.")
    return out
