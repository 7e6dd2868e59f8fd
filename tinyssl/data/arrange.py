"""`tinyssl data arrange`: a labelled selection CSV + its image folder → the class-folder
layout `train` reads, so images that had no class (a plain folder, or `unlabeled/`) can be
trained on once a person has labelled them.

    OUT/train/<label>/<name>   every CSV row with a label
    OUT/<split>/<class>/<name> every image that already had a class (train/ and test/)
    OUT/unlabeled/<name>       every other image (the unlabelled pool)

Files are copied byte for byte (no re-encoding); `<name>` is the image's name inside the
source, so nothing collides. OUT is written under a temporary name and renamed into place:
an interrupted arrange leaves no half-made tree, and an existing OUT is never touched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from tinyssl.data.folder import SPLIT_NAMES, classify
from tinyssl.data.labels_file import read_rows
from tinyssl.data.types import DataError


def _class_folder(label: str, path: Path) -> str:
    if not label or "/" in label or "\\" in label or label in (".", "..") or \
            label.lower() in SPLIT_NAMES:
        raise DataError(f"{path}: label {label!r} cannot be a class folder name.")
    return label


def arrange(source: Path, labels_csv: Path, out: Path) -> dict[str, int]:
    """Write the layout above; returns images per class of OUT/train plus "unlabeled"."""
    if out.exists():
        raise DataError(f"{out} exists; arrange writes a new folder (choose another --out).")
    rows = read_rows(labels_csv)
    if "file" not in rows[0]:
        raise DataError(f"{labels_csv}: needs a 'file' column naming images of {source}.")
    labels = {r["file"]: _class_folder(r["label"], labels_csv) for r in rows if r.get("label")}
    if not labels:
        raise DataError(f"{labels_csv}: no row has a label yet; fill in the label column.")
    tree = classify(source)
    known = {name for by_class in tree.values() for files in by_class.values()
             for name, _ in files}
    if unknown := sorted(set(labels) - known):
        raise DataError(f"{labels_csv}: {len(unknown)} file(s) are not images of {source}, "
                        f"e.g. {', '.join(map(repr, unknown[:3]))}.")
    # The tree is built in a temporary sibling and renamed in whole: a failed copy (disk
    # full, read-only) leaves no DIR that looks arranged.
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    except OSError as e:  # name the folder asked for, not the temporary one
        raise OSError(e.errno, e.strerror, str(out)) from None
    counts: Counter[str] = Counter()
    try:
        for split, by_class in tree.items():
            for cls, files in by_class.items():
                for name, src in files:
                    if name in labels:
                        dest, key = Path("train", labels[name], name), labels[name]
                    elif split == "unlabeled":
                        dest, key = Path("unlabeled", name), "unlabeled"
                    else:
                        dest, key = Path(split, cls, name), cls if split == "train" else ""
                    target = tmp / dest
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if isinstance(src, bytes):
                        target.write_bytes(src)
                    else:
                        shutil.copyfile(src, target)
                    counts[key] += 1
        os.rename(tmp, out)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(out)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    counts.pop("", None)
    return dict(sorted(counts.items()))
