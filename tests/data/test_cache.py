"""Damaged cache entries are found, removed and rebuilt from the source with one warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from tinyssl.data import load_dataset


@pytest.fixture()
def source(tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    path = tmp_path / "set.npz"
    np.savez(path, x_train=rng.integers(1, 255, (40, 12, 12), dtype=np.uint8),
             y_train=np.arange(40) % 4, x_test=rng.integers(1, 255, (8, 12, 12), dtype=np.uint8),
             y_test=np.arange(8) % 4)
    return f"npz:{path}"


def _entry(cache: Path) -> Path:
    (entry,) = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")
                and p.name != "fingerprints"]
    return entry


def _zero_middle(path: Path) -> None:
    """Same size, bytes zeroed: what a bad copy or a failing disk leaves."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(64)
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated images": lambda e: (e / "train_x.npy").write_bytes(
        (e / "train_x.npy").read_bytes()[:300]),
    "zeroed images": lambda e: _zero_middle(e / "train_x.npy"),
    "empty meta.json": lambda e: (e / "meta.json").write_text(""),
    "missing labels": lambda e: (e / "train_y.npy").unlink(),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_entry_is_rebuilt_with_one_warning(source: str, tmp_path: Path,
                                                     damage: str) -> None:
    cache = tmp_path / "cache"
    first = load_dataset(source, cache_dir=cache)
    want_x, want_y = np.array(first.train.x), np.array(first.train.y)
    DAMAGE[damage](_entry(cache))
    with pytest.warns(UserWarning, match="cached copy of this data set is damaged"):
        again = load_dataset(source, cache_dir=cache)
    np.testing.assert_array_equal(again.train.x, want_x)
    np.testing.assert_array_equal(again.train.y, want_y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: the next load is clean
        np.testing.assert_array_equal(load_dataset(source, cache_dir=cache).train.x, want_x)


def test_an_intact_entry_is_read_memory_mapped(source: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_dataset(source, cache_dir=cache)
    hit = load_dataset(source, cache_dir=cache)
    assert isinstance(hit.train.x, np.memmap)
