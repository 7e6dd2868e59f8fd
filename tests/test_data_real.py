"""The real files in ../shared/data load with the counts their README states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyssl.data import load_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} not present")


@pytest.mark.parametrize("source, size, classes, train, test, shape", [
    ("npz:mnist5k.npz", None, 10, 4000, 1000, (28, 28, 1)),
    ("folder:pbc64.tgz", None, 8, 13673, 3419, (64, 64, 3)),
    ("folder:malaria-gray50.tgz", None, 2, 22046, 5512, (50, 50, 1)),
    ("folder:cifar10-jpeg.tgz", None, 10, 50000, 10000, (32, 32, 3)),
])
def test_shared_data_counts(source, size, classes, train, test, shape) -> None:
    kind, _, name = source.partition(":")
    b = load_dataset(f"{kind}:{SHARED / name}", size)
    assert (b.num_classes, len(b.train), len(b.test), b.image_shape) == (
        classes, train, test, shape)
    assert b.train.x.dtype == np.uint8
    assert set(np.unique(b.train.y)) == set(range(classes))
    if name == "pbc64.tgz":
        assert b.classes[0] == "basophil" and int(np.sum(b.train.y == 0)) == 974
