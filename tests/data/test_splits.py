"""Label budgets: disjoint, balanced, reproducible; impossible budgets say why."""

from __future__ import annotations

import numpy as np
import pytest

from tinyssl.data import DataError, load_dataset, make_split


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_split_is_disjoint_balanced_and_reproducible(digits) -> None:
    s = make_split(digits, 10, labels_per_class=5, val_per_class=10, seed=3)
    assert np.bincount(digits.train.y[s.labeled], minlength=10).tolist() == [5] * 10
    assert np.bincount(digits.train.y[s.val], minlength=10).tolist() == [10] * 10
    parts = [set(s.labeled), set(s.val), set(s.unlabeled)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert sum(map(len, parts)) == len(digits.train)
    again = make_split(digits, 10, labels_per_class=5, val_per_class=10, seed=3)
    np.testing.assert_array_equal(s.labeled, again.labeled)
    other = make_split(digits, 10, labels_per_class=5, val_per_class=10, seed=4)
    assert not np.array_equal(s.labeled, other.labeled)


def test_total_label_budget_spreads_the_remainder(digits) -> None:
    s = make_split(digits, 10, labels=43, seed=0)
    counts = np.bincount(digits.train.y[s.labeled], minlength=10)
    assert counts.sum() == 43 and set(counts.tolist()) == {4, 5}


def test_no_budget_labels_everything_but_validation(digits) -> None:
    s = make_split(digits, 10, val_per_class=5)
    assert len(s.unlabeled) == 0 and len(s.labeled) == len(digits.train) - 50


def test_budgets_per_class_name(digits) -> None:
    s = make_split(digits, 10, labels_per_class={"3": 7, "8": 1}, val_per_class=2, seed=1)
    assert np.bincount(digits.train.y[s.labeled], minlength=10).tolist() == \
        [0, 0, 0, 7, 0, 0, 0, 0, 1, 0]
    assert len(s.val) == 20 and len(s.labeled) + len(s.val) + len(s.unlabeled) == \
        len(digits.train)


def test_budget_up_to_the_last_image_of_a_class(digits) -> None:
    smallest = int(np.bincount(digits.train.y).min())
    s = make_split(digits, 10, labels_per_class=smallest - 3, val_per_class=3)
    assert len(s.labeled) == 10 * (smallest - 3)
    with pytest.raises(DataError, match=f"not enough for {smallest - 2} labelled"):
        make_split(digits, 10, labels_per_class=smallest - 2, val_per_class=3)


@pytest.mark.parametrize("kwargs, match", [
    ({"labels_per_class": 500}, "class '0' has 143 training images: not enough for 500"),
    ({"labels": 0}, "labels must be at least 1"),
    ({"labels": -3}, "labels must be at least 1"),
    ({"labels_per_class": 0}, "labels_per_class must be at least 1"),
    ({"labels": 5}, "cannot cover 10 classes"),
    ({"labels": 20, "labels_per_class": 2}, "not both"),
    ({"labels": 20, "val_per_class": -1}, "val_per_class must be >= 0"),
    ({"labels_per_class": {"cat": 3, "3": 2}}, "unknown class name.*'cat'.*classes are 0, 1"),
    ({"labels_per_class": {"3": 0}}, "at least 1 in total"),
    ({"labels_per_class": {"3": -1, "4": 5}}, "0 or more"),
])
def test_impossible_budgets(digits, kwargs, match) -> None:
    with pytest.raises(DataError, match=match):
        make_split(digits, 10, **kwargs)


def test_split_round_trips_through_disk(digits, tmp_path) -> None:
    from tinyssl.data import Split

    s = make_split(digits, 10, labels=50)
    s.save(tmp_path / "split.npz")
    loaded = Split.load(tmp_path / "split.npz")
    np.testing.assert_array_equal(loaded.unlabeled, s.unlabeled)
