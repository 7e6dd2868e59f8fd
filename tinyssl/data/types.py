"""The data contract every stage shares.

A dataset is uint8 images N×H×W×C in memory (or memory-mapped) with int64 labels
(-1 = unlabelled) and class names. Splits are index arrays into the training set.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """Bad or missing input data; the message is one sentence a user can act on."""


@dataclass
class ImageSet:
    x: np.ndarray  # uint8, N×H×W×C (may be a np.memmap)
    y: np.ndarray  # int64, N; -1 where the label is unknown
    names: np.ndarray | None = None  # str, N: file names inside a folder/archive source

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class DataBundle:
    """One source, loaded: train/test with labels, optional source-provided unlabelled images."""

    name: str
    classes: list[str]
    train: ImageSet
    test: ImageSet
    unlabeled: ImageSet | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C)."""
        return tuple(self.train.x.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class Split:
    """Which training images are labelled, held out for validation, or used unlabelled.

    `source` says where the labelled images came from ("random", a selection rule, or
    "labels-file"); `labeled_y`, when set, holds labels a person gave in a labels file, which
    replace the source's labels of those images."""

    labeled: np.ndarray  # int64 indices into DataBundle.train
    val: np.ndarray
    unlabeled: np.ndarray
    source: str = "random"
    labeled_y: np.ndarray | None = None

    def save(self, path: Path) -> None:
        from tinyssl.runs import atomic_write_bytes

        extra = {} if self.labeled_y is None else {"labeled_y": self.labeled_y}
        buf = io.BytesIO()
        np.savez(buf, labeled=self.labeled, val=self.val, unlabeled=self.unlabeled,
                 source=np.array(self.source), **extra)
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> Split:
        with np.load(path) as f:
            return cls(f["labeled"], f["val"], f["unlabeled"],
                       str(f["source"]) if "source" in f.files else "random",
                       f["labeled_y"] if "labeled_y" in f.files else None)

    def apply_labels(self, bundle: DataBundle) -> DataBundle:
        """The bundle with the labels-file labels in place of the source's (a copy)."""
        if self.labeled_y is None:
            return bundle
        y = np.array(bundle.train.y, dtype=np.int64)
        y[self.labeled] = self.labeled_y
        train = ImageSet(bundle.train.x, y, bundle.train.names)
        return DataBundle(bundle.name, bundle.classes, train, bundle.test, bundle.unlabeled)
