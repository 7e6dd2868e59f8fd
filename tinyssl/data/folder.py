"""Image-folder trees, read from a directory or straight from a .tar(.gz)/.tgz/.zip archive.

Layouts: PATH/<class>/*, or PATH/{train,test}/<class>/*, optionally with PATH/unlabeled/*
(a single top-level folder inside an archive is looked through). Without a test folder a
seeded 20 % of each class is held out as the test set. A tree without class folders is all
unlabelled images (no classes): what `tinyssl select` picks from before anything is
labelled. Corrupt or non-image files are skipped with one warning that counts them; a class
left empty is an error.

Large trees are decoded in worker processes on machines with 4+ cores (chunks of encoded
bytes in, one stacked array out). Threads do not help: decoding a 32×32 JPEG is mostly
Python-side Pillow work under the GIL (measured: 4 threads 2-3× slower than one).
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import tarfile
import warnings
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np

from tinyssl.data.images import (
    IMAGE_EXTENSIONS,
    Encoded,
    decode,
    is_image_name,
    unify_channels,
)
from tinyssl.data.types import DataBundle, DataError, ImageSet

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
SPLIT_NAMES = {"train", "test", "unlabeled", "unlabelled"}
TEST_FRACTION = 0.2
CHUNK = 2048  # images per worker task
MAX_WORKERS = 8
# Fork, pickling and gathering cost about what two workers save (measured on 2 cores), so
# small machines decode in this process.
MIN_WORKERS = 4


def tree_members(path: Path) -> Iterator[tuple[str, Encoded]]:
    """(relative posix path, file path or bytes) for every regular file of a directory or
    archive; a directory's files are read by whoever decodes them."""
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                yield f.relative_to(path).as_posix(), f
        return
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir():
                        yield info.filename, _zip_member(zf, info)
            return
        # Stream mode ("r|") reads a .tgz front to back once: no random seeks into gzip. The
        # gzip layer is ours: tarfile's own stream reader takes a .tgz cut off between two
        # members for a complete archive, while GzipFile raises EOFError at the cut.
        gz = name.endswith((".gz", ".tgz"))
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as raw, \
                tarfile.open(fileobj=raw, mode="r|") as tf:
            for member in tf:
                if member.isfile():
                    yield member.name, tf.extractfile(member).read()  # type: ignore[union-attr]
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise DataError(f"{path}: cannot read the archive ({e}); is it truncated or corrupt?"
                        ) from None


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes; a damaged member (CRC or deflate error) gives b"", which decodes as
    an unreadable image: skipped and counted, as a corrupt file in a folder is."""
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        return b""


def _strip_root(parts: list[tuple[str, ...]]) -> int:
    """How many leading folders all files share and no split/class layout needs."""
    depth = 0
    while parts and all(len(p) > depth + 2 for p in parts) and len({p[depth] for p in parts}) == 1:
        if parts[0][depth] in SPLIT_NAMES:
            break
        depth += 1
    return depth


def classify(path: Path) -> dict[str, dict[str, list[tuple[str, Encoded]]]]:
    """split → class → files (the 'unlabeled' split uses class '')."""
    files = []
    for name, src in tree_members(path):
        if is_image_name(name):
            files.append((PurePosixPath(name).parts, src))
    if not files:
        raise DataError(f"{path}: no image files found "
                        f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))}).")
    depth = _strip_root([p for p, _ in files])
    tree: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    has_splits = any(p[depth] in SPLIT_NAMES for p, _ in files)
    for parts, reader in files:
        rel = parts[depth:]
        if has_splits:
            split = "unlabeled" if rel[0] == "unlabelled" else rel[0]
            if split == "unlabeled":
                tree["unlabeled"][""].append(("/".join(parts), reader))
            elif split in SPLIT_NAMES and len(rel) >= 3:
                tree[split][rel[1]].append(("/".join(parts), reader))
        elif len(rel) >= 2:
            tree["train"][rel[0]].append(("/".join(parts), reader))
    if not tree.get("train"):  # no class folders: every image is unlabelled (select's input)
        return {"unlabeled": {"": [("/".join(parts), reader) for parts, reader in files]}}
    if path.is_dir():  # archives hold no empty folders worth a look; directories may
        train_root = path.joinpath(*files[0][0][:depth], *(["train"] if has_splits else []))
        for d in sorted(train_root.iterdir()):
            if d.is_dir() and d.name not in tree["train"] and d.name not in SPLIT_NAMES:
                raise DataError(f"{path}: class folder '{d.name}' holds no image files.")
    return tree


def _decode_chunk(sources: list[Encoded], image_size: int | None, resize: str = "squash"
                  ) -> tuple[np.ndarray | list[np.ndarray], list[int]]:
    """Decode one chunk; stacked when shapes agree (one array pickles far faster than 2k)."""
    arrays = [decode(src, image_size, resize) for src in sources]
    bad = [i for i, a in enumerate(arrays) if a is None]
    good = [a for a in arrays if a is not None]
    if good and len({a.shape for a in good}) == 1:
        return np.stack(good), bad
    return good, bad


def _decode_all(sources: list[Encoded], image_size: int | None, resize: str = "squash"
                ) -> tuple[list[np.ndarray], list[int]]:
    """Decode every image, in worker processes when there are many: (images, bad positions)."""
    chunks = [sources[i:i + CHUNK] for i in range(0, len(sources), CHUNK)]
    workers = min(len(chunks), len(os.sched_getaffinity(0)), MAX_WORKERS)
    if workers >= MIN_WORKERS:
        # fork: the workers need nothing but this module's already-imported code
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_decode_chunk, chunks, [image_size] * len(chunks),
                                    [resize] * len(chunks)))
    else:
        results = [_decode_chunk(c, image_size, resize) for c in chunks]
    images: list[np.ndarray] = []
    bad: list[int] = []
    for start, (good, bad_in_chunk) in zip(range(0, len(sources), CHUNK), results, strict=True):
        images += list(good)
        bad += [start + i for i in bad_in_chunk]
    return images, bad


def load_folder(path: Path, image_size: int | None, seed: int = 0,
                resize: str = "squash") -> DataBundle:
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    if path.is_file() and not path.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise DataError(f"{path}: not a directory or a {'/'.join(ARCHIVE_SUFFIXES)} archive.")
    tree = classify(path)
    classes = sorted(tree.get("train", {}))
    names, encoded, splits, labels = [], [], [], []
    for split, by_class in tree.items():
        for name, entries in sorted(by_class.items()):
            if split != "unlabeled" and name not in classes:
                raise DataError(f"{path}: class '{name}' appears in {split}/ but not in train/.")
            label = -1 if split == "unlabeled" else classes.index(name)
            for file_name, src in entries:
                names.append(file_name)
                encoded.append(src)
                splits.append(split)
                labels.append(label)
    images, bad = _decode_all(encoded, image_size, resize)
    if bad:
        warnings.warn(f"{path}: skipped {len(bad)} unreadable image file(s), e.g. "
                      f"{', '.join(names[i] for i in bad[:3])}", stacklevel=2)
        keep = np.ones(len(names), dtype=bool)
        keep[bad] = False
        splits = [s for s, k in zip(splits, keep, strict=True) if k]
        labels = [y for y, k in zip(labels, keep, strict=True) if k]
        names = [n for n, k in zip(names, keep, strict=True) if k]
    split_arr, label_arr = np.asarray(splits), np.asarray(labels, dtype=np.int64)
    name_arr = np.asarray(names, dtype=str)
    for c, name in enumerate(classes):
        if not np.any((split_arr == "train") & (label_arr == c)):
            raise DataError(f"{path}: class folder '{name}' holds no readable image.")
    images = unify_channels(images)
    if len({im.shape for im in images}) > 1:
        sizes = sorted({im.shape[:2] for im in images})[:4]
        raise DataError(f"{path}: images have different sizes (e.g. {sizes}); pass --image-size "
                        "to resize them to one size.")
    x = np.stack(images)
    out = {split: ImageSet(x[split_arr == split], label_arr[split_arr == split],
                           name_arr[split_arr == split]) for split in tree}
    empty = ImageSet(x[:0], label_arr[:0], name_arr[:0])
    train, test = out.get("train", empty), out.get("test")
    if test is None:
        train, test = _hold_out(train, seed) if classes else (train, empty)
    return DataBundle(f"folder:{path}", classes, train, test, out.get("unlabeled"))


def _hold_out(train: ImageSet, seed: int) -> tuple[ImageSet, ImageSet]:
    """Seeded per-class 20 % test hold-out for trees without a test folder."""
    rng = np.random.default_rng(seed)
    test_idx = np.concatenate([
        rng.permutation(np.flatnonzero(train.y == c))[: max(1, round(TEST_FRACTION * n))]
        for c, n in zip(*np.unique(train.y, return_counts=True), strict=True)])
    mask = np.zeros(len(train), dtype=bool)
    mask[test_idx] = True

    def part(m: np.ndarray) -> ImageSet:
        return ImageSet(train.x[m], train.y[m], None if train.names is None else train.names[m])

    return part(~mask), part(mask)
