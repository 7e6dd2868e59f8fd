"""Label budgets: which training images are labelled, held out for validation, unlabelled."""

from __future__ import annotations

import numpy as np

from tinyssl.data.types import DataBundle, DataError, Split


def make_split(data: DataBundle | np.ndarray, num_classes: int, labels: int | None = None,
               labels_per_class: int | None = None, val_per_class: int = 10,
               seed: int = 0) -> Split:
    """Seeded, class-balanced split of the training set.

    `labels` (total, spread evenly; the remainder goes to randomly chosen classes) or
    `labels_per_class`; neither means every non-validation image is labelled. Validation
    takes `val_per_class` images of each class first; everything else is unlabelled.
    """
    y = data.train.y if isinstance(data, DataBundle) else np.asarray(data)
    classes = data.classes if isinstance(data, DataBundle) else [str(c) for c in range(num_classes)]
    if labels is not None and labels_per_class is not None:
        raise DataError("give either labels or labels_per_class, not both.")
    for name, value in (("labels", labels), ("labels_per_class", labels_per_class)):
        if value is not None and value < 1:
            raise DataError(f"{name} must be at least 1 (got {value}).")
    if val_per_class < 0:
        raise DataError(f"val_per_class must be >= 0 (got {val_per_class}).")
    rng = np.random.default_rng(seed)
    per_class = np.zeros(num_classes, dtype=np.int64)
    if labels_per_class is not None:
        per_class[:] = labels_per_class
    elif labels is not None:
        if labels < num_classes:
            raise DataError(f"{labels} labels cannot cover {num_classes} classes; "
                            f"use at least {num_classes}.")
        per_class[:] = labels // num_classes
        per_class[rng.permutation(num_classes)[: labels % num_classes]] += 1
    lab, val, unl = [], [], []
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        take = len(idx) - val_per_class if labels is None and labels_per_class is None \
            else int(per_class[c])
        if take < 1 or take + val_per_class > len(idx):
            raise DataError(
                f"class '{classes[c]}' has {len(idx)} training images: not enough for "
                f"{take} labelled + {val_per_class} validation images; lower the label budget "
                "or val_per_class.")
        val.append(idx[:val_per_class])
        lab.append(idx[val_per_class:val_per_class + take])
        unl.append(idx[val_per_class + take:])
    return Split(*(np.sort(np.concatenate(p)).astype(np.int64) for p in (lab, val, unl)))
