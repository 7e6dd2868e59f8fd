"""Decoded datasets on disk, keyed by source, image size and the source files' checksum.

Decoding 60,000 JPEGs takes seconds; reading the decoded arrays back takes a fraction of
one. Entries are written to a temporary folder and renamed into place, so a crash never
leaves a half-written entry, and concurrent writers simply race to the rename. Entries are
opened memory-mapped (copy-on-write), so parallel runs of a sweep share one copy in the
page cache and a caller that writes into its arrays never touches the file.

Every array file's size and sha256 are kept in the entry's meta.json and checked on each
load: a truncated file, a missing one, an empty meta.json or bytes zeroed in place (same
size) make the entry damaged, and a damaged entry is removed and rebuilt from the source
with one warning instead of failing (or silently training on black images) on every run.
Hashing every byte costs 0.2 s for CIFAR-10's 150 MB on one core here (sha256 was the
fastest of sha256, sha1, blake2b and md5 in hashlib); sampling blocks would be cheaper but
misses a zeroed stretch between samples.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from tinyssl.data.types import DataBundle, ImageSet

CACHE_VERSION = 3  # 2: folder sources keep their file names; 3: array checksums
_PARTS = ("train", "test", "unlabeled")


def tinyssl_home() -> Path:
    """~/.cache/tinyssl, or $TINYSSL_CACHE: decoded datasets and downloads live below it."""
    return Path(os.environ.get("TINYSSL_CACHE", Path.home() / ".cache" / "tinyssl"))


def cache_root(cache_dir: Path | None = None) -> Path:
    return Path(cache_dir) if cache_dir is not None else tinyssl_home() / "datasets"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def fingerprint(path: Path, root: Path) -> str:
    """Identity of a source's bytes.

    A file: its sha256, memoised under `root` by (path, size, mtime), so a 170 MB tarball is
    hashed once and an unchanged file costs one stat() afterwards. A directory (pickle
    batches, STL-10 binaries, image trees): every file's name, size and mtime — hashing
    2.7 GB of STL-10 on every load would cost more than it protects.
    """
    path = path.resolve()
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(path.rglob("*")):
            if f.is_file():
                st = f.stat()
                h.update(f"{f.relative_to(path)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return h.hexdigest()
    st = path.stat()
    stat_key = hashlib.sha256(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    memo = root / "fingerprints" / stat_key
    if memo.is_file():
        return memo.read_text()
    digest = _sha256(path)
    from tinyssl.runs import atomic_write_text

    with contextlib.suppress(OSError):  # a read-only cache still works: it hashes again
        atomic_write_text(memo, digest)
    return digest


def cache_key(source: str, image_size: int | None, files: Path | None, root: Path) -> str:
    parts = [f"v{CACHE_VERSION}", source, str(image_size)]
    if files is not None:
        parts.append(fingerprint(files, root))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _damage(entry: Path) -> str | None:
    """Why the entry cannot be trusted, or None when every array file is as written."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        arrays = meta["arrays"]
    except (OSError, ValueError, KeyError, TypeError):
        return "its meta.json is unreadable"
    if "train_x.npy" not in arrays or "test_x.npy" not in arrays:
        return "its meta.json lists no train/test arrays"
    for name, want in arrays.items():
        path = entry / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != want["bytes"]:
            return f"{name} has {path.stat().st_size} bytes, {want['bytes']} were written"
        if _sha256(path) != want["sha256"]:
            return f"{name} does not match its checksum"
    return None


def _discard(entry: Path, why: str) -> None:
    warnings.warn(f"the cached copy of this data set is damaged ({why}); decoding the source "
                  f"again (removed {entry}).", stacklevel=3)
    shutil.rmtree(entry, ignore_errors=True)


def load_cached(root: Path, key: str) -> DataBundle | None:
    """The entry's bundle, memory-mapped; None when there is none or it was damaged (then
    it is removed, so the caller decodes the source and writes a fresh one)."""
    entry = root / key
    if not entry.is_dir():
        return None
    if (why := _damage(entry)) is not None:
        _discard(entry, why)
        return None
    meta = json.loads((entry / "meta.json").read_text())
    try:
        sets = {p: ImageSet(np.load(entry / f"{p}_x.npy", mmap_mode="c"),
                            np.load(entry / f"{p}_y.npy"),
                            np.load(entry / f"{p}_names.npy") if
                            f"{p}_names.npy" in meta["arrays"] else None)
                for p in _PARTS if f"{p}_x.npy" in meta["arrays"]}
    except (OSError, ValueError) as e:  # a header that numpy refuses although it hashed right
        _discard(entry, str(e))
        return None
    return DataBundle(meta["name"], meta["classes"], sets["train"], sets["test"],
                      sets.get("unlabeled"))


def save_cached(root: Path, key: str, bundle: DataBundle) -> None:
    """The entry is written whole into a temporary sibling and renamed in (one rename for a
    folder of arrays, not fsynced file by file: the sha256 each load checks catches what a
    power cut could leave); a cache that cannot be written is skipped: it only saves time."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}."))
    except OSError:
        return
    try:
        for part in _PARTS:
            s = getattr(bundle, part)
            if s is not None:
                np.save(tmp / f"{part}_x.npy", np.ascontiguousarray(s.x))
                np.save(tmp / f"{part}_y.npy", s.y)
                if s.names is not None:
                    np.save(tmp / f"{part}_names.npy", s.names)
        arrays = {f.name: {"bytes": f.stat().st_size, "sha256": _sha256(f)}
                  for f in sorted(tmp.glob("*.npy"))}
        (tmp / "meta.json").write_text(json.dumps({"name": bundle.name, "classes": bundle.classes,
                                                   "arrays": arrays}))
        os.rename(tmp, root / key)
    except OSError:
        pass  # another process wrote the same entry first, or the disk is read-only: fine
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
