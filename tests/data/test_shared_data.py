"""The real files in ../shared/data load with the counts their README states.

They use the default cache (~/.cache/tinyssl or $TINYSSL_CACHE), so the 60,000 CIFAR JPEGs
are decoded once per machine, not once per test session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyssl.data import load_dataset

PBC_CLASSES = ["basophil", "eosinophil", "erythroblast", "ig", "lymphocyte", "monocyte",
               "neutrophil", "platelet"]


@pytest.mark.parametrize("source, classes, train, test, shape", [
    ("npz:mnist5k.npz", 10, 4000, 1000, (28, 28, 1)),
    ("folder:pbc64.tgz", PBC_CLASSES, 13673, 3419, (64, 64, 3)),
    ("folder:malaria-gray50.tgz", ["Parasitized", "Uninfected"], 22046, 5512, (50, 50, 1)),
    ("folder:cifar10-jpeg.tgz", 10, 50000, 10000, (32, 32, 3)),
])
def test_shared_data_counts(shared_data: Path, source: str, classes: int | list[str],
                            train: int, test: int, shape: tuple[int, int, int]) -> None:
    kind, _, name = source.partition(":")
    b = load_dataset(f"{kind}:{shared_data / name}")
    n_classes = classes if isinstance(classes, int) else len(classes)
    assert (b.num_classes, len(b.train), len(b.test), b.image_shape) == (
        n_classes, train, test, shape)
    if isinstance(classes, list):
        assert b.classes == classes
    assert b.train.x.dtype == np.uint8 and b.train.y.dtype == np.int64
    assert set(np.unique(b.train.y)) == set(np.unique(b.test.y)) == set(range(n_classes))
    assert b.train.x[::97].std() > 10  # real pixels, not a blank decode
    if name == "pbc64.tgz":  # the README's imbalance note
        counts = np.bincount(b.train.y)
        assert counts[0] == 974 and counts[PBC_CLASSES.index("neutrophil")] == 2663
    if name == "cifar10-jpeg.tgz":  # the official split: 5,000 / 1,000 per class
        assert np.bincount(b.train.y).tolist() == [5000] * 10
        assert np.bincount(b.test.y).tolist() == [1000] * 10


def test_shared_data_resized(shared_data: Path) -> None:
    b = load_dataset(f"folder:{shared_data / 'pbc64.tgz'}", image_size=32)
    assert b.image_shape == (32, 32, 3) and len(b.train) == 13673
