"""The named sources: digits, npz:PATH, folder:PATH, cifar10[:PATH], stl10[:PATH],
medmnist:NAME[:PATH]. Each returns a DataBundle at the source's own image size."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np

from tinyssl.data.cache import tinyssl_home
from tinyssl.data.download import (
    CIFAR10_MD5,
    CIFAR10_URL,
    MEDMNIST_URL,
    STL10_MD5,
    STL10_URL,
    fetch,
)
from tinyssl.data.images import check_images, check_labels
from tinyssl.data.types import DataBundle, DataError, ImageSet

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship",
                 "truck"]


# MedMNIST .npz files carry no class names; these are the official ones (medmnist INFO).
MEDMNIST_CLASSES = {
    "bloodmnist": ["basophil", "eosinophil", "erythroblast", "immature granulocyte",
                   "lymphocyte", "monocyte", "neutrophil", "platelet"],
    "pathmnist": ["adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
                  "normal colon mucosa", "cancer-associated stroma",
                  "colorectal adenocarcinoma epithelium"],
    "pneumoniamnist": ["normal", "pneumonia"],
}


def default_path(kind: str, name: str | None) -> Path:
    """Where a source lives when no path is given: the downloads folder, fetched (with its
    checksum verified) the first time on a machine with internet."""
    downloads = tinyssl_home() / "downloads"
    if kind == "cifar10":
        path = downloads / "cifar-10-python.tar.gz"
        if not path.exists():
            fetch(CIFAR10_URL, path, CIFAR10_MD5)
        return path
    if kind == "stl10":
        path = downloads / "stl10_binary"
        if not path.exists():
            archive = fetch(STL10_URL, downloads / "stl10_binary.tar.gz", STL10_MD5)
            try:
                with tarfile.open(archive) as tf:
                    tf.extractall(downloads, filter="data")
            except (tarfile.TarError, EOFError, OSError) as e:
                raise DataError(f"{archive}: cannot extract the archive ({e}).") from None
        return path
    if kind == "medmnist":
        path = downloads / f"{name}.npz"
        if not path.exists():
            fetch(MEDMNIST_URL.format(name=name), path, md5=None)
        return path
    raise DataError(f"data source '{kind}' needs a path, e.g. {kind}:/data/my_images.")


def load_digits(seed: int = 0) -> DataBundle:
    """scikit-learn's bundled 8×8 digits (1,797 real images); a seeded stratified 20 % test."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = np.round(d.images * (255 / 16)).astype(np.uint8)[..., None]
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: (y == c).sum() // 5]
                           for c in range(10)])
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    return DataBundle("digits", [str(i) for i in range(10)], ImageSet(x[~mask], y[~mask]),
                      ImageSet(x[mask], y[mask]))


#: File signatures of what people hand to `npz:` by mistake, for the sentence that says so.
_NOT_NPZ = {b"\x1f\x8b": "a gzip archive (.tgz / .tar.gz)", b"BZh": "a bzip2 archive",
            b"\xfd7zXZ": "an xz archive", b"\x93NUMPY": "a single .npy array"}


def _npz_arrays(path: Path, keys: dict[str, str]) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"{path} does not exist.")
    with open(path, "rb") as f:
        head = f.read(262)
    if not head.startswith(b"PK"):  # an .npz is a zip file
        kind = next((v for k, v in _NOT_NPZ.items() if head.startswith(k)),
                    "a tar archive" if head[257:262] == b"ustar" else "not a zip file")
        raise DataError(f"{path} is not an .npz file (it is {kind}); for an archive or folder "
                        f"of class folders use folder:{path}.")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys.values() if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing key(s) {', '.join(missing)} "
                                f"(found {', '.join(f.files)}).")
            return {name: f[key] for name, key in keys.items()}
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e}).") from None


def load_npz(path: Path) -> DataBundle:
    """Plain arrays: x_train, y_train, x_test, y_test, optional class_names."""
    a = _npz_arrays(path, {"x_train": "x_train", "y_train": "y_train", "x_test": "x_test",
                           "y_test": "y_test"})
    with np.load(path, allow_pickle=False) as f:
        names = [str(n) for n in f["class_names"]] if "class_names" in f.files else None
    num = len(names) if names else int(max(a["y_train"].max(), a["y_test"].max())) + 1
    classes = names or [str(i) for i in range(num)]
    return _bundle(f"npz:{path}", classes, a["x_train"], a["y_train"], a["x_test"], a["y_test"],
                   str(path))


def _bundle(name: str, classes: list[str], x_tr: np.ndarray, y_tr: np.ndarray,
            x_te: np.ndarray, y_te: np.ndarray, where: str) -> DataBundle:
    sets = []
    for x, y, part in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        x = check_images(x, f"{where} ({part})")
        sets.append(ImageSet(x, check_labels(y, len(x), len(classes), f"{where} ({part})")))
    return DataBundle(name, classes, *sets)


def load_medmnist(name: str, path: Path) -> DataBundle:
    """MedMNIST .npz; the official validation images join the training pool (our splits
    carve validation from it, seeded)."""
    keys = {k: k for k in ("train_images", "train_labels", "val_images", "val_labels",
                           "test_images", "test_labels")}
    a = _npz_arrays(path, keys)
    y_all = np.concatenate([a["train_labels"].reshape(-1), a["val_labels"].reshape(-1),
                            a["test_labels"].reshape(-1)])
    classes = MEDMNIST_CLASSES.get(name) or [str(i) for i in range(int(y_all.max()) + 1)]
    return _bundle(f"medmnist:{name}", classes,
                   np.concatenate([a["train_images"], a["val_images"]]),
                   np.concatenate([a["train_labels"], a["val_labels"]]).reshape(-1),
                   a["test_images"], a["test_labels"].reshape(-1), str(path))


def _unpickle(data: bytes, where: str) -> dict:
    try:
        return pickle.loads(data, encoding="latin1")
    except Exception as e:  # pickle raises many types for corrupt input
        raise DataError(f"{where}: not a CIFAR-10 python batch ({e}).") from None


def load_cifar10(path: Path) -> DataBundle:
    """The official python version: the cifar-10-batches-py directory (or its parent), or
    cifar-10-python.tar.gz read without extracting."""
    batches: dict[str, bytes] = {}
    if path.is_dir():
        root = path / "cifar-10-batches-py" if (path / "cifar-10-batches-py").is_dir() else path
        for f in root.glob("*_batch*"):
            batches[f.name] = f.read_bytes()
    else:
        try:
            with tarfile.open(path, "r:*") as tf:
                for m in tf.getmembers():
                    if m.isfile() and "_batch" in Path(m.name).name:
                        batches[Path(m.name).name] = tf.extractfile(m).read()  # type: ignore[union-attr]
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DataError(f"{path}: cannot read the archive ({e}).") from None
    needed = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    if missing := [n for n in needed if n not in batches]:
        raise DataError(f"{path}: CIFAR-10 batch file(s) missing: {', '.join(missing)}.")

    def arrays(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ds = [_unpickle(batches[n], f"{path}/{n}") for n in names]
        try:
            x = np.concatenate([np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                                for d in ds]).transpose(0, 2, 3, 1)
            y = np.concatenate([np.asarray(d["labels"]) for d in ds])
        except (KeyError, ValueError) as e:
            raise DataError(f"{path}: malformed CIFAR-10 batch ({e}).") from None
        return x, y

    x_tr, y_tr = arrays(needed[:5])
    x_te, y_te = arrays(["test_batch"])
    return _bundle("cifar10", CIFAR10_CLASSES, x_tr, y_tr, x_te, y_te, str(path))


def _stl_images(path: Path) -> np.ndarray:
    """Memory-mapped: the 100k unlabelled images (2.7 GB) are never read all at once."""
    if not path.is_file():
        raise DataError(f"{path} does not exist.")
    n, rem = divmod(path.stat().st_size, 3 * 96 * 96)
    if rem:
        raise DataError(f"{path}: size is not a whole number of 3×96×96 images; truncated?")
    # Stored column-major per image: (N, C, W, H) in C order → N×H×W×C view, no copy.
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(n, 3, 96, 96)).transpose(0, 3, 2, 1)


def _stl_labels(path: Path, n: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path} does not exist.")
    y = np.fromfile(path, dtype=np.uint8).astype(np.int64) - 1  # stored 1..10
    return check_labels(y, n, 10, str(path))


def load_stl10(path: Path) -> DataBundle:
    """The official binary format (stl10_binary/: train_X.bin, train_y.bin, test_*,
    unlabeled_X.bin)."""
    root = path / "stl10_binary" if (path / "stl10_binary").is_dir() else path
    x_tr, x_te = _stl_images(root / "train_X.bin"), _stl_images(root / "test_X.bin")
    unl = root / "unlabeled_X.bin"
    unlabeled = None
    if unl.is_file():
        xu = _stl_images(unl)
        unlabeled = ImageSet(xu, np.full(len(xu), -1, dtype=np.int64))
    names = root / "class_names.txt"
    classes = names.read_text().split() if names.is_file() else STL10_CLASSES
    return DataBundle("stl10", classes,
                      ImageSet(x_tr, _stl_labels(root / "train_y.bin", len(x_tr))),
                      ImageSet(x_te, _stl_labels(root / "test_y.bin", len(x_te))), unlabeled)
