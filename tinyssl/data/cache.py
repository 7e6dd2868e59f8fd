"""Decoded datasets on disk, keyed by source, image size and the source files' checksum.

Decoding 60,000 JPEGs takes tens of seconds; reading the decoded arrays back takes a
fraction of one. Entries are written to a temporary folder and renamed into place, so a
crash never leaves a half-written entry, and concurrent writers simply race to the rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from tinyssl.data.types import DataBundle, ImageSet

CACHE_VERSION = 1


def cache_root(cache_dir: Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("TINYSSL_CACHE", Path.home() / ".cache" / "tinyssl")) / "datasets"


def fingerprint(path: Path) -> str:
    """sha256 of a file's bytes; for a directory, of every file's name, size and mtime."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                st = f.stat()
                h.update(f"{f.relative_to(path)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    else:
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                h.update(block)
    return h.hexdigest()


def cache_key(source: str, image_size: int | None, files: Path | None) -> str:
    parts = [f"v{CACHE_VERSION}", source, str(image_size)]
    if files is not None:
        parts.append(fingerprint(files))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


_PARTS = ("train", "test", "unlabeled")


def load_cached(root: Path, key: str) -> DataBundle | None:
    entry = root / key
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    sets = {p: ImageSet(np.load(entry / f"{p}_x.npy"), np.load(entry / f"{p}_y.npy"))
            for p in _PARTS if (entry / f"{p}_x.npy").is_file()}
    return DataBundle(meta["name"], meta["classes"], sets["train"], sets["test"],
                      sets.get("unlabeled"))


def save_cached(root: Path, key: str, bundle: DataBundle) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}."))
    try:
        for part in _PARTS:
            s = getattr(bundle, part)
            if s is not None:
                np.save(tmp / f"{part}_x.npy", np.ascontiguousarray(s.x))
                np.save(tmp / f"{part}_y.npy", s.y)
        (tmp / "meta.json").write_text(json.dumps({"name": bundle.name,
                                                   "classes": bundle.classes}))
        os.rename(tmp, root / key)
    except OSError:
        pass  # another process wrote the same entry first, or the disk is read-only: fine
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
