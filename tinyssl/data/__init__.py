"""The data layer: named sources → uint8 images in memory, cached, and seeded label splits.

    load_dataset("folder:../shared/data/pbc64.tgz", image_size=32)
    make_split(bundle, bundle.num_classes, labels_per_class=25, seed=0)
"""

from __future__ import annotations

from pathlib import Path

from tinyssl.data import sources
from tinyssl.data.cache import cache_key, cache_root, load_cached, save_cached
from tinyssl.data.folder import load_folder
from tinyssl.data.images import RESIZE_MODES, resize_array
from tinyssl.data.splits import make_split, require_classes
from tinyssl.data.types import DataBundle, DataError, ImageSet, Split

SOURCES = ("digits", "npz:PATH", "folder:PATH", "cifar10[:PATH]", "stl10[:PATH]",
           "medmnist:NAME[:PATH]")


def _parse(source: str) -> tuple[str, str | None, Path | None]:
    """'medmnist:bloodmnist:/x.npz' → ('medmnist', 'bloodmnist', Path('/x.npz'))."""
    kind, _, rest = source.partition(":")
    if kind == "medmnist":
        name, _, path = rest.partition(":")
        if not name:
            raise DataError("medmnist needs a dataset name, e.g. medmnist:bloodmnist.")
        return kind, name, Path(path).expanduser() if path else None
    if kind in ("npz", "folder") and not rest:
        raise DataError(f"{kind} needs a path, e.g. {kind}:/data/my_images.")
    if kind == "digits" and rest:
        raise DataError("digits takes no path.")
    if kind not in ("digits", "npz", "folder", "cifar10", "stl10"):
        raise DataError(f"unknown data source '{source}'; use one of {', '.join(SOURCES)}.")
    return kind, None, Path(rest).expanduser() if rest else None


# Sizes at which a source's raw arrays are used as they are: nothing to decode or resize.
NATIVE_SIZE = {"cifar10": 32, "stl10": 96}


def _load_raw(kind: str, name: str | None, path: Path | None,
              image_size: int | None, resize: str) -> DataBundle:
    if kind == "digits":
        return sources.load_digits()
    assert path is not None  # every other source was given or resolved a path
    if kind == "npz":
        return sources.load_npz(path)
    if kind == "folder":
        return load_folder(path, image_size, resize=resize)
    if kind == "cifar10":
        return sources.load_cifar10(path)
    if kind == "stl10":
        return sources.load_stl10(path)
    return sources.load_medmnist(name, path)  # type: ignore[arg-type]


def _resized(bundle: DataBundle, image_size: int | None, resize: str) -> DataBundle:
    def r(s: ImageSet | None) -> ImageSet | None:
        return None if s is None else ImageSet(resize_array(s.x, image_size, resize=resize), s.y,
                                               s.names)

    return DataBundle(bundle.name, bundle.classes, r(bundle.train), r(bundle.test),
                      r(bundle.unlabeled))


def load_dataset(source: str, image_size: int | None = None,
                 cache_dir: Path | None = None, resize: str = "squash") -> DataBundle:
    """Load a named source at `image_size` (None: the source's own size); non-square images
    are made square as `resize` says (images.RESIZE_MODES) before they are resized.

    Everything is cached on disk after the first decode, except `digits` (in memory, tiny)
    and STL-10 at its own 96 px (memory-mapped from the official binaries already).
    """
    if image_size is not None and image_size < 1:
        raise DataError(f"image_size must be positive (got {image_size}).")
    if resize not in RESIZE_MODES:
        raise DataError(f"unknown resize mode '{resize}'; choose from {', '.join(RESIZE_MODES)}.")
    kind, name, path = _parse(source)
    if path is None and kind != "digits":
        path = sources.default_path(kind, name)
    if path is not None and not path.exists():
        raise DataError(f"{path} does not exist (data source '{source}').")
    if image_size == NATIVE_SIZE.get(kind):
        image_size = None
    if kind == "digits" or (kind == "stl10" and image_size is None):
        return _resized(_load_raw(kind, name, path, image_size, resize), image_size, resize)
    root = cache_root(cache_dir)
    mode = "" if resize == "squash" else f":{resize}"  # squash keeps the earlier cache keys
    key = cache_key(f"{kind}:{name}:{path.resolve() if path else ''}{mode}", image_size, path,
                    root)
    if (hit := load_cached(root, key)) is not None:
        return hit
    bundle = _resized(_load_raw(kind, name, path, image_size, resize), image_size, resize)
    save_cached(root, key, bundle)
    # Hand back the memory-mapped entry, so a first load behaves like every later one and the
    # decoded copy is freed; the in-memory bundle is the fallback when the cache is read-only.
    return load_cached(root, key) or bundle


__all__ = ["SOURCES", "DataBundle", "DataError", "ImageSet", "Split", "load_dataset",
           "make_split", "require_classes"]
