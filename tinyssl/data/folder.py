"""Image-folder trees, read from a directory or straight from a .tar(.gz)/.tgz/.zip archive.

Layouts: PATH/<class>/*, or PATH/{train,test}/<class>/*, optionally with PATH/unlabeled/*
(a single top-level folder inside an archive is looked through). Without a test folder a
seeded 20 % of each class is held out as the test set. Corrupt or non-image files are
skipped with one warning that counts them; a class left empty is an error.
"""

from __future__ import annotations

import tarfile
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np

from tinyssl.data.images import IMAGE_EXTENSIONS, decode, unify_channels
from tinyssl.data.types import DataBundle, DataError, ImageSet

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
SPLIT_NAMES = {"train", "test", "unlabeled", "unlabelled"}
TEST_FRACTION = 0.2


def _members(path: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(relative posix path, reader) for every regular file of a directory or archive."""
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                yield f.relative_to(path).as_posix(), f.read_bytes
        return
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir():
                        data = zf.read(info)  # read now: the archive closes after the loop
                        yield info.filename, lambda data=data: data
            return
        # Stream mode ("r|*") reads a .tgz front to back once: no random seeks into gzip.
        with tarfile.open(path, "r|*") as tf:
            for member in tf:
                if member.isfile():
                    data = tf.extractfile(member).read()  # type: ignore[union-attr]
                    yield member.name, lambda data=data: data
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise DataError(f"{path}: cannot read the archive ({e}); is it truncated or corrupt?"
                        ) from None


def _strip_root(parts: list[tuple[str, ...]]) -> int:
    """How many leading folders all files share and no split/class layout needs."""
    depth = 0
    while parts and all(len(p) > depth + 2 for p in parts) and len({p[depth] for p in parts}) == 1:
        if parts[0][depth] in SPLIT_NAMES:
            break
        depth += 1
    return depth


def _classify(path: Path) -> dict[str, dict[str, list[tuple[str, Callable[[], bytes]]]]]:
    """split → class → files (the 'unlabeled' split uses class '')."""
    files = [(PurePosixPath(n).parts, r) for n, r in _members(path)
             if PurePosixPath(n).suffix.lower() in IMAGE_EXTENSIONS
             and not any(p.startswith(".") or p == "__MACOSX" for p in PurePosixPath(n).parts)]
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
    if not tree.get("train"):
        raise DataError(f"{path}: expected class folders PATH/<class>/* or "
                        "PATH/train/<class>/*; found none.")
    if path.is_dir():  # archives hold no empty folders worth a look; directories may
        train_root = path.joinpath(*files[0][0][:depth], *(["train"] if has_splits else []))
        for d in sorted(train_root.iterdir()):
            if d.is_dir() and d.name not in tree["train"] and d.name not in SPLIT_NAMES:
                raise DataError(f"{path}: class folder '{d.name}' holds no image files.")
    return tree


def _decode_all(entries: list[tuple[str, Callable[[], bytes]]],
                image_size: int | None) -> tuple[list[np.ndarray], list[str]]:
    """Decode with a thread pool: Pillow releases the GIL while decoding."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        arrays = list(pool.map(lambda e: decode(e[1](), image_size), entries, chunksize=256))
    bad = [name for (name, _), a in zip(entries, arrays, strict=True) if a is None]
    return [a for a in arrays if a is not None], bad


def load_folder(path: Path, image_size: int | None, seed: int = 0) -> DataBundle:
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    if path.is_file() and not path.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise DataError(f"{path}: not a directory or a {'/'.join(ARCHIVE_SUFFIXES)} archive.")
    tree = _classify(path)
    classes = sorted(tree["train"])
    sets: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    corrupt: list[str] = []
    for split, by_class in tree.items():
        images, labels = [], []
        for name, entries in sorted(by_class.items()):
            if split != "unlabeled" and name not in classes:
                raise DataError(f"{path}: class '{name}' appears in {split}/ but not in train/.")
            arrays, bad = _decode_all(entries, image_size)
            corrupt += bad
            if not arrays and split == "train":
                raise DataError(f"{path}: class folder '{name}' holds no readable image.")
            images += arrays
            labels += [-1 if split == "unlabeled" else classes.index(name)] * len(arrays)
        sets[split] = (images, labels)
    if corrupt:
        warnings.warn(f"{path}: skipped {len(corrupt)} unreadable image file(s), e.g. "
                      f"{', '.join(corrupt[:3])}", stacklevel=2)
    all_images = unify_channels([im for imgs, _ in sets.values() for im in imgs])
    if len({im.shape for im in all_images}) > 1:
        sizes = sorted({im.shape[:2] for im in all_images})[:4]
        raise DataError(f"{path}: images have different sizes (e.g. {sizes}); pass --image-size "
                        "to resize them to one size.")
    out: dict[str, ImageSet] = {}
    pos = 0
    for split, (imgs, labels) in sets.items():
        x = np.stack(all_images[pos:pos + len(imgs)]) if imgs else None
        pos += len(imgs)
        if x is not None:
            out[split] = ImageSet(x, np.asarray(labels, dtype=np.int64))
    train, test = out["train"], out.get("test")
    if test is None:
        train, test = _hold_out(train, seed)
    return DataBundle(f"folder:{path}", classes, train, test, out.get("unlabeled"))


def _hold_out(train: ImageSet, seed: int) -> tuple[ImageSet, ImageSet]:
    """Seeded per-class 20 % test hold-out for trees without a test folder."""
    rng = np.random.default_rng(seed)
    test_idx = np.concatenate([
        rng.permutation(np.flatnonzero(train.y == c))[: max(1, round(TEST_FRACTION * n))]
        for c, n in zip(*np.unique(train.y, return_counts=True), strict=True)])
    mask = np.zeros(len(train), dtype=bool)
    mask[test_idx] = True
    return ImageSet(train.x[~mask], train.y[~mask]), ImageSet(train.x[mask], train.y[mask])
