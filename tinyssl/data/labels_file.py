"""Labels files: the CSV `tinyssl select` writes, after a person filled in the labels, or a
Label Studio export of the tasks it wrote (JSON, JSON_MIN: data/label_studio.py; CSV).

Columns: `file` (the name inside the folder or archive, as `select` wrote it) or `index`
(position in the training set, for array sources), and optionally `label` (a class name).
With labels, those labels are used; without (an empty column), the source's own labels of
the listed images are (the simulated labelling loop on an already labelled data set).
Other columns (cluster, score, …) are ignored.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from tinyssl.data.types import DataBundle, DataError
from tinyssl.runs import atomic_write_bytes


def read_rows(path: Path) -> list[dict[str, str]]:
    """The CSV's rows (keys and values stripped), or one sentence saying what is wrong."""
    if not path.is_file():
        raise DataError(f"labels file {path} does not exist.")
    if path.suffix.lower() == ".json":  # a Label Studio export (JSON or JSON_MIN)
        from tinyssl.data.label_studio import read_export

        return read_export(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            fields = [c.strip() for c in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot be read as a CSV file ({e}).") from None
    if not rows:
        raise DataError(f"{path}: no rows; a labels file lists at least one image.")
    if "annotation_id" in fields and "label" not in fields:
        raise DataError(f"{path}: a Label Studio CSV export with no 'label' column; label "
                        "with the config `tinyssl select --format label-studio` wrote.")
    if "file" not in fields and "index" not in fields:
        raise DataError(f"{path}: needs a 'file' or an 'index' column (found "
                        f"{', '.join(fields) or 'none'}).")
    return [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in rows]


def listed_indices(path: Path, rows: list[dict[str, str]], bundle: DataBundle) -> np.ndarray:
    """Training-set indices of the images `rows` (of labels file `path`) list."""
    n = len(bundle.train)
    if "file" in rows[0] and any(r["file"] for r in rows):
        names = bundle.train.names
        if names is None:
            raise DataError(f"{path}: {bundle.name} has no file names; list images by 'index'.")
        where = {str(name): i for i, name in enumerate(names)}
        unknown = [r["file"] for r in rows if r["file"] not in where]
        spare = bundle.unlabeled.names if bundle.unlabeled is not None else None
        unlabelled = set(map(str, spare)) if spare is not None else set()
        if in_spare := [u for u in unknown if u in unlabelled]:
            raise DataError(f"{path}: lists images that are unlabelled in {bundle.name} (no "
                            f"class folder), e.g. {in_spare[0]!r}; `tinyssl data arrange` "
                            "copies them into class folders to train on.")
        if unknown:
            raise DataError(f"{path}: {len(unknown)} file(s) are not training images of "
                            f"{bundle.name}, e.g. {', '.join(map(repr, unknown[:3]))}.")
        return np.array([where[r["file"]] for r in rows], dtype=np.int64)
    try:
        idx = np.array([int(r["index"]) for r in rows], dtype=np.int64)
    except (KeyError, ValueError):
        raise DataError(f"{path}: every 'index' must be a whole number.") from None
    if ((idx < 0) | (idx >= n)).any():
        raise DataError(f"{path}: index {int(idx[(idx < 0) | (idx >= n)][0])} is outside the "
                        f"training set (0 to {n - 1}).")
    return idx


def read_labels_file(path: Path | str, bundle: DataBundle
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """(training-set indices, labels or None) of the images a labels file lists."""
    path = Path(path)
    rows = read_rows(path)
    idx = listed_indices(path, rows, bundle)
    if len(np.unique(idx)) < len(idx):
        raise DataError(f"{path}: lists the same image more than once.")
    given = [r.get("label", "") for r in rows]
    if not any(given):
        return idx, None
    if missing := sum(not g for g in given):
        raise DataError(f"{path}: {missing} row(s) have no label; label every listed image or "
                        "none (then the source's labels are used).")
    classes = {c: i for i, c in enumerate(bundle.classes)}
    if unknown := sorted({g for g in given if g not in classes}):
        raise DataError(f"{path}: unknown class(es) {', '.join(map(repr, unknown[:5]))}; the "
                        f"classes are {', '.join(bundle.classes)}.")
    return idx, np.array([classes[g] for g in given], dtype=np.int64)


def image_keys(bundle: DataBundle, idx: np.ndarray) -> tuple[str, list[str | int]]:
    """How a labels file names training images `idx`: the `file` column (folder and archive
    sources) or the `index` column (array sources), and the values."""
    names = bundle.train.names
    if names is None:
        return "index", [int(i) for i in idx]
    return "file", [str(names[i]) for i in idx]


def write_labels_file(path: Path, bundle: DataBundle, idx: np.ndarray, labels: np.ndarray
                      ) -> None:
    """The labelled training images `idx` with their `labels` (class indices) as a labels
    file: how a run that labelled images in rounds hands its whole labelled set to the next
    run (`fit` gives the teacher's to the student and the baseline)."""
    key, keys = image_keys(bundle, idx)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([key, "label"])
    w.writerows([k, bundle.classes[int(c)]] for k, c in zip(keys, labels, strict=True))
    atomic_write_bytes(path, buf.getvalue().encode())
