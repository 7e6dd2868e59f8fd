"""Label budgets: which training images are labelled, held out for validation, unlabelled."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tinyssl.data.types import DataBundle, DataError, Split


def _per_class_budget(classes: list[str], labels: int | None,
                      labels_per_class: int | Mapping[str, int] | None,
                      rng: np.random.Generator) -> np.ndarray | None:
    """Labelled images wanted per class; None means every non-validation image."""
    if labels is not None and labels_per_class is not None:
        raise DataError("give either labels or labels_per_class, not both.")
    if isinstance(labels_per_class, Mapping):
        if unknown := sorted(set(labels_per_class) - set(classes)):
            raise DataError(f"unknown class name(s) {', '.join(map(repr, unknown))} in "
                            f"labels_per_class; the classes are {', '.join(classes)}.")
        budget = np.array([labels_per_class.get(c, 0) for c in classes], dtype=np.int64)
        if (budget < 0).any() or budget.sum() < 1:
            raise DataError("labels_per_class must give each class 0 or more labels and at "
                            f"least 1 in total (got {dict(labels_per_class)}).")
        return budget
    for name, value in (("labels", labels), ("labels_per_class", labels_per_class)):
        if value is not None and value < 1:
            raise DataError(f"{name} must be at least 1 (got {value}).")
    n = len(classes)
    if labels_per_class is not None:
        return np.full(n, labels_per_class, dtype=np.int64)
    if labels is None:
        return None
    if labels < n:
        raise DataError(f"{labels} labels cannot cover {n} classes; use at least {n}.")
    budget = np.full(n, labels // n, dtype=np.int64)
    budget[rng.permutation(n)[: labels % n]] += 1
    return budget


def require_classes(bundle: DataBundle) -> None:
    """A classifier needs two classes or more: one class scores 100 % whatever it learns,
    none has nothing to learn. One sentence each, before any run directory exists."""
    if bundle.num_classes == 0:
        raise DataError(f"{bundle.name} holds no labelled images (no class folders): choose "
                        "images to label with `tinyssl select`, then `tinyssl data arrange` "
                        "them into class folders.")
    if bundle.num_classes == 1:
        raise DataError(f"{bundle.name} has one class ({bundle.classes[0]}): a classifier needs "
                        "at least two (one class scores 100 % whatever it learns); add the "
                        "other class folders, or pre-train on these images with `tinyssl "
                        "pretrain`.")


def make_split(data: DataBundle | np.ndarray, num_classes: int, labels: int | None = None,
               labels_per_class: int | Mapping[str, int] | None = None,
               val_per_class: int = 10, seed: int = 0) -> Split:
    """Seeded, class-balanced split of the training set.

    `labels` (total, spread evenly; the remainder goes to randomly chosen classes) or
    `labels_per_class` (one number, or {class name: number} for uneven budgets); neither
    means every non-validation image is labelled. Validation takes `val_per_class` images of
    each class first; everything else is unlabelled.
    """
    y = data.train.y if isinstance(data, DataBundle) else np.asarray(data)
    classes = data.classes if isinstance(data, DataBundle) else [str(c) for c in range(num_classes)]
    if val_per_class < 0:
        raise DataError(f"val_per_class must be >= 0 (got {val_per_class}).")
    if num_classes == 0:  # unlabelled images only (no class folders): all of them are the pool
        none = np.zeros(0, dtype=np.int64)
        return Split(none, none, none)
    rng = np.random.default_rng(seed)
    budget = _per_class_budget(classes, labels, labels_per_class, rng)
    lab, val, unl = [], [], []
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        take = len(idx) - val_per_class if budget is None else int(budget[c])
        if take + val_per_class > len(idx) or (budget is None and take < 1):
            raise DataError(
                f"class '{classes[c]}' has {len(idx)} training images: not enough for "
                f"{max(take, 1)} labelled + {val_per_class} validation images; lower the label "
                "budget or val_per_class.")
        val.append(idx[:val_per_class])
        lab.append(idx[val_per_class:val_per_class + take])
        unl.append(idx[val_per_class + take:])
    return Split(*(np.sort(np.concatenate(p)).astype(np.int64) for p in (lab, val, unl)))


def draw_validation(y: np.ndarray, classes: list[str], val_per_class: int, seed: int,
                    exclude: np.ndarray | None = None) -> np.ndarray:
    """`val_per_class` seeded images of each class, none of them in `exclude`: the held-out
    set of a split whose labelled images were chosen (selection rule or labels file) rather
    than drawn. In the simulated labelling loop their labels are the oracle's."""
    if val_per_class < 0:
        raise DataError(f"val_per_class must be >= 0 (got {val_per_class}).")
    rng = np.random.default_rng([seed, 0xFA1])
    free = np.ones(len(y), dtype=bool)
    if exclude is not None:
        free[exclude] = False
    val = []
    for c, name in enumerate(classes):
        idx = np.flatnonzero((y == c) & free)
        if len(idx) < val_per_class:
            raise DataError(f"class '{name}' has {len(idx)} training image(s) left for "
                            f"validation, fewer than val_per_class={val_per_class}; lower it.")
        val.append(rng.permutation(idx)[:val_per_class])
    return np.sort(np.concatenate(val)).astype(np.int64)


def split_around(n: int, labeled: np.ndarray, val: np.ndarray, source: str,
                 labeled_y: np.ndarray | None = None) -> Split:
    """The split of `n` training images whose labelled and validation sets are given: every
    other image is unlabelled."""
    labeled = np.asarray(labeled, dtype=np.int64)
    if np.intersect1d(labeled, val).size:
        raise DataError("labelled images overlap the validation images.")
    rest = np.setdiff1d(np.arange(n), np.concatenate([labeled, val]))
    order = np.argsort(labeled, kind="stable")
    return Split(labeled[order], np.sort(val).astype(np.int64), rest.astype(np.int64), source,
                 None if labeled_y is None else np.asarray(labeled_y, np.int64)[order])
