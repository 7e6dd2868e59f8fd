"""Every loader against small files written here in the official formats."""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tinyssl.cli import main
from tinyssl.data import DataError, load_dataset
from tinyssl.data.download import fetch, md5sum


def _png(rgb: bool = True, size: int = 12, value: int = 100) -> bytes:
    buf = io.BytesIO()
    arr = np.full((size, size, 3) if rgb else (size, size), value, dtype=np.uint8)
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _tree(root: Path, layout: dict[str, int], corrupt: str | None = None) -> Path:
    """layout: relative class folder → number of images."""
    for folder, n in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / folder / f"{i}.png").write_bytes(_png(rgb=i % 2 == 0, size=10 + i % 3))
    if corrupt:
        (root / corrupt).write_bytes(b"not an image at all")
    return root


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def test_folder_train_test_layout_mixed_sizes_and_modes(tmp_path: Path, cache: Path) -> None:
    root = _tree(tmp_path / "imgs", {"train/cat": 5, "train/dog": 4, "test/cat": 2,
                                     "test/dog": 2, "unlabeled": 3})
    b = load_dataset(f"folder:{root}", image_size=16, cache_dir=cache)
    assert b.classes == ["cat", "dog"]
    assert b.train.x.shape == (9, 16, 16, 3) and b.train.x.dtype == np.uint8
    assert np.bincount(b.train.y).tolist() == [5, 4]
    assert len(b.test) == 4 and len(b.unlabeled) == 3
    assert (b.unlabeled.y == -1).all()


def test_folder_without_sizes_refuses_mixed_sizes(tmp_path: Path, cache: Path) -> None:
    root = _tree(tmp_path / "imgs", {"a": 3, "b": 3})
    with pytest.raises(DataError, match="different sizes.*--image-size"):
        load_dataset(f"folder:{root}", cache_dir=cache)


def test_folder_class_layout_holds_out_a_test_set(tmp_path: Path, cache: Path) -> None:
    root = _tree(tmp_path / "imgs", {"a": 10, "b": 10})
    b = load_dataset(f"folder:{root}", image_size=8, cache_dir=cache)
    assert len(b.train) == 16 and len(b.test) == 4
    assert np.bincount(b.test.y).tolist() == [2, 2]


@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_archives_read_in_place_and_corrupt_files_are_skipped(tmp_path: Path, cache: Path,
                                                              kind: str) -> None:
    root = _tree(tmp_path / "set", {"train/a": 3, "train/b": 3, "test/a": 1, "test/b": 1},
                 corrupt="train/a/broken.jpg")
    archive = tmp_path / f"set.{kind}"
    if kind == "tgz":
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(root, arcname="set")
    else:
        with zipfile.ZipFile(archive, "w") as zf:
            for f in root.rglob("*.*"):
                zf.write(f, f"set/{f.relative_to(root)}")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        b = load_dataset(f"folder:{archive}", image_size=8, cache_dir=cache)
    assert len(b.train) == 6 and b.classes == ["a", "b"]
    again = load_dataset(f"folder:{archive}", image_size=8, cache_dir=cache)  # from the cache
    np.testing.assert_array_equal(again.train.x, b.train.x)


def test_truncated_archive_is_a_clear_error_wherever_it_is_cut(tmp_path: Path,
                                                                cache: Path) -> None:
    root = _tree(tmp_path / "set", {"a": 20, "b": 20})
    whole = tmp_path / "set.tgz"
    with tarfile.open(whole, "w:gz") as tf:
        tf.add(root, arcname="set")
    data = whole.read_bytes()
    cut = tmp_path / "cut.tgz"
    # Every cut before the gzip trailer, including those landing between two members, which
    # tarfile's own stream reader takes for a complete (shorter) archive.
    for size in range(20, len(data) - 16, 7):
        cut.write_bytes(data[:size])
        with pytest.raises(DataError, match="cut.tgz: cannot read the archive.*truncated"):
            load_dataset(f"folder:{cut}", image_size=8, cache_dir=cache)
    zipped = tmp_path / "set.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("a/0.png", _png())
    zipped.write_bytes(zipped.read_bytes()[:-30])
    with pytest.raises(DataError, match="set.zip: cannot read the archive"):
        load_dataset(f"folder:{zipped}", image_size=8, cache_dir=cache)


def test_a_damaged_zip_member_is_skipped_like_a_corrupt_file_in_a_folder(
        tmp_path: Path, cache: Path) -> None:
    zipped = tmp_path / "set.zip"
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for c in "ab":
            for i in range(3):
                zf.writestr(f"{c}/{i}.png", _png())
    with zipfile.ZipFile(zipped) as zf:
        info = zf.getinfo("a/1.png")
    raw = bytearray(zipped.read_bytes())
    start = info.header_offset + 30 + len(info.filename)  # the member's compressed bytes
    raw[start:start + info.compress_size] = b"\xff" * info.compress_size
    zipped.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="skipped 1 unreadable image file.*a/1.png"):
        bundle = load_dataset(f"folder:{zipped}", image_size=8, cache_dir=cache)
    assert len(bundle.train) + len(bundle.test) == 5


def test_large_trees_decode_in_worker_processes_with_the_same_result(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyssl.data import folder

    root = _tree(tmp_path / "set", {"a": 9, "b": 7}, corrupt="a/zz_broken.png")
    with pytest.warns(UserWarning, match="skipped 1 .*a/zz_broken.png"):
        serial = folder.load_folder(root, 8)
    monkeypatch.setattr(folder, "CHUNK", 3)
    monkeypatch.setattr(folder, "MIN_WORKERS", 2)
    monkeypatch.setattr(folder.os, "sched_getaffinity", lambda _pid: {0, 1})
    with pytest.warns(UserWarning, match="skipped 1 .*a/zz_broken.png"):
        pooled = folder.load_folder(root, 8)
    np.testing.assert_array_equal(pooled.train.x, serial.train.x)
    np.testing.assert_array_equal(pooled.test.y, serial.test.y)


def test_cache_is_keyed_by_content_and_size(tmp_path: Path, cache: Path) -> None:
    root = _tree(tmp_path / "set", {"a": 4, "b": 4})
    archive = tmp_path / "set.tgz"

    def pack(value: int) -> None:
        (root / "a" / "0.png").write_bytes(_png(value=value))
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(root, arcname="set")

    pack(10)
    first = load_dataset(f"folder:{archive}", image_size=8, cache_dir=cache)
    assert isinstance(first.train.x, np.memmap)  # served from the cache entry
    first.train.x[:] = 0  # copy-on-write: the entry on disk is untouched
    again = load_dataset(f"folder:{archive}", image_size=8, cache_dir=cache)
    assert again.train.x.max() > 0
    assert load_dataset(f"folder:{archive}", image_size=4, cache_dir=cache).image_shape[0] == 4
    pack(200)  # same name, new bytes → a new entry, not stale pixels
    changed = load_dataset(f"folder:{archive}", image_size=8, cache_dir=cache)
    assert changed.train.x.max() == 200 and again.train.x.max() < 200
    assert len([d for d in cache.iterdir() if d.name != "fingerprints"]) == 3


def test_empty_class_folder_is_a_clear_error(tmp_path: Path, cache: Path) -> None:
    root = _tree(tmp_path / "set", {"a": 2}, corrupt=None)
    (root / "b").mkdir()
    (root / "b" / "x.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="'b' holds no readable"), \
            pytest.warns(UserWarning, match="skipped 1 unreadable .*b/x.png"):
        load_dataset(f"folder:{root}", image_size=8, cache_dir=cache)
    (root / "b" / "x.png").unlink()
    with pytest.raises(DataError, match="'b' holds no image files"):
        load_dataset(f"folder:{root}", image_size=8, cache_dir=cache)


def _cifar_batch(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return pickle.dumps({"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         "labels": rng.integers(0, 10, n).tolist()})


def test_cifar10_directory_and_tarball(tmp_path: Path, cache: Path) -> None:
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    for i in range(1, 6):
        (d / f"data_batch_{i}").write_bytes(_cifar_batch(4, i))
    (d / "test_batch").write_bytes(_cifar_batch(3, 9))
    b = load_dataset(f"cifar10:{tmp_path}", cache_dir=cache)
    assert b.train.x.shape == (20, 32, 32, 3) and len(b.test) == 3
    raw = pickle.loads(_cifar_batch(4, 1))["data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(b.train.x[0], raw)  # channel-planar → HWC done right
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(d, arcname="cifar-10-batches-py")
    b2 = load_dataset(f"cifar10:{archive}", image_size=16, cache_dir=cache)
    assert b2.train.x.shape == (20, 16, 16, 3)
    (d / "test_batch").unlink()
    with pytest.raises(DataError, match="test_batch"):
        load_dataset(f"cifar10:{d}", cache_dir=cache)


def test_cifar10_without_a_path_downloads_and_checks_the_md5(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyssl.data import sources

    d = tmp_path / "remote" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (d / name).write_bytes(_cifar_batch(2, len(name)))
    remote = tmp_path / "remote" / "cifar-10-python.tar.gz"
    with tarfile.open(remote, "w:gz") as tf:
        tf.add(d, arcname="cifar-10-batches-py")
    monkeypatch.setenv("TINYSSL_CACHE", str(tmp_path / "home"))
    monkeypatch.setattr(sources, "CIFAR10_URL", remote.as_uri())
    monkeypatch.setattr(sources, "CIFAR10_MD5", "0" * 32)
    with pytest.raises(DataError, match="corrupt: md5"):
        load_dataset("cifar10")
    assert not (tmp_path / "home" / "downloads" / "cifar-10-python.tar.gz").exists()
    monkeypatch.setattr(sources, "CIFAR10_MD5", md5sum(remote))
    b = load_dataset("cifar10")
    assert len(b.train) == 10 and b.classes[0] == "airplane"
    assert (tmp_path / "home" / "downloads" / "cifar-10-python.tar.gz").is_file()
    assert any((tmp_path / "home" / "datasets").iterdir())  # decoded once, cached


def test_stl10_binaries_are_memory_mapped(tmp_path: Path, cache: Path) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 96, 96, 3), dtype=np.uint8)
    # official layout: each image column-major (C, W, H)
    (tmp_path / "train_X.bin").write_bytes(imgs.transpose(0, 3, 2, 1).tobytes())
    (tmp_path / "train_y.bin").write_bytes(np.array([1, 2, 3, 10, 1], np.uint8).tobytes())
    (tmp_path / "test_X.bin").write_bytes(imgs[:2].transpose(0, 3, 2, 1).tobytes())
    (tmp_path / "test_y.bin").write_bytes(np.array([4, 5], np.uint8).tobytes())
    (tmp_path / "unlabeled_X.bin").write_bytes(imgs.transpose(0, 3, 2, 1).tobytes())
    b = load_dataset(f"stl10:{tmp_path}", cache_dir=cache)
    np.testing.assert_array_equal(b.train.x, imgs)
    assert b.train.y.tolist() == [0, 1, 2, 9, 0]
    assert isinstance(b.unlabeled.x.base, np.memmap) or isinstance(b.unlabeled.x, np.memmap)
    assert not cache.exists()  # at 96 px nothing is copied into the cache
    assert isinstance(load_dataset(f"stl10:{tmp_path}", 96, cache_dir=cache).train.x.base,
                      np.memmap)
    assert not cache.exists()
    assert load_dataset(f"stl10:{tmp_path}", image_size=32, cache_dir=cache).unlabeled.x.shape \
        == (5, 32, 32, 3)
    (tmp_path / "train_y.bin").write_bytes(np.array([1, 2, 3, 11, 1], np.uint8).tobytes())
    with pytest.raises(DataError, match="out of range"):
        load_dataset(f"stl10:{tmp_path}", cache_dir=cache)


def test_medmnist_and_npz(tmp_path: Path, cache: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {f"{p}_images": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
              for p, n in (("train", 6), ("val", 2), ("test", 3))}
    arrays |= {f"{p}_labels": rng.integers(0, 3, (n, 1)) for p, n in
               (("train", 6), ("val", 2), ("test", 3))}
    np.savez(tmp_path / "bloodmnist.npz", **arrays)
    b = load_dataset(f"medmnist:bloodmnist:{tmp_path / 'bloodmnist.npz'}", cache_dir=cache)
    assert b.train.x.shape == (8, 28, 28, 1) and len(b.test) == 3
    assert b.classes[0] == "basophil"  # official names: the .npz holds none
    np.testing.assert_array_equal(b.train.y[6:], arrays["val_labels"].reshape(-1))
    np.savez(tmp_path / "plain.npz", x_train=arrays["train_images"], y_train=np.arange(6) % 2,
             x_test=arrays["test_images"], y_test=np.array([0, 1, 0]),
             class_names=np.array(["no", "yes"]))
    assert load_dataset(f"npz:{tmp_path / 'plain.npz'}").classes == ["no", "yes"]
    np.savez(tmp_path / "bad.npz", x_train=arrays["train_images"], y_train=np.arange(6))
    with pytest.raises(DataError, match="missing key.*x_test"):
        load_dataset(f"npz:{tmp_path / 'bad.npz'}")
    np.savez(tmp_path / "range.npz", x_train=arrays["train_images"], y_train=np.arange(6),
             x_test=arrays["test_images"], y_test=np.array([0, 1, 0]),
             class_names=np.array(["no", "yes"]))
    with pytest.raises(DataError, match="label 2 is out of range 0..1"):
        load_dataset(f"npz:{tmp_path / 'range.npz'}")


@pytest.mark.parametrize("source, match", [
    ("imagenet", "unknown data source"), ("folder:", "needs a path"),
    ("npz:/does/not/exist.npz", "does not exist"), ("medmnist:", "needs a dataset name"),
])
def test_bad_sources_are_clear_errors(source: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        load_dataset(source)


def test_download_checks_md5(tmp_path: Path) -> None:
    src = tmp_path / "remote.bin"
    src.write_bytes(b"payload" * 100)
    dest = tmp_path / "dl" / "file.bin"
    assert fetch(src.as_uri(), dest, md5sum(src)).read_bytes() == src.read_bytes()
    with pytest.raises(DataError, match="corrupt: md5"):
        fetch(src.as_uri(), tmp_path / "dl" / "other.bin", "0" * 32)
    assert not (tmp_path / "dl" / "other.bin").exists()
    with pytest.raises(DataError, match="could not download"):
        fetch((tmp_path / "missing").as_uri(), tmp_path / "dl" / "x.bin", None)


def test_data_cli_info_and_preview(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["data", "info", "digits"])
    assert res.exit_code == 0, res.output
    assert "1442" in res.output and "355" in res.output and "8×8×1" in res.output
    res = runner.invoke(main, ["data", "info", "digits", "--labels-per-class", "3",
                               "--val-per-class", "5"])
    assert res.exit_code == 0, res.output
    total = next(line for line in res.output.splitlines() if "total" in line)
    assert [c.strip() for c in total.split("│")[1:-1]] == [
        "total", "1442", "355", "30", "50", str(1442 - 80)], total
    out = tmp_path / "grid.png"
    res = runner.invoke(main, ["data", "preview", "digits", "--out", str(out), "--image-size",
                               "16", "--per-class", "4"])
    assert res.exit_code == 0, res.output
    assert Image.open(out).size[0] > 100


def test_data_cli_bad_input_is_one_line_without_traceback(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("TINYSSL_CACHE", str(tmp_path / "cache"))
    runner = CliRunner()
    root = _tree(tmp_path / "set", {"a": 3, "b": 3}, corrupt="b/bad.png")
    res = runner.invoke(main, ["data", "info", f"folder:{root}", "--image-size", "8"])
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "skipped 1 unreadable" in res.output
    (tmp_path / "cut.tgz").write_bytes(b"\x1f\x8b" + b"\0" * 40)
    for args in (["info", "folder:/no/such/dir"], ["info", f"folder:{tmp_path / 'cut.tgz'}"],
                 ["info", "digits", "--labels-per-class", "500"],
                 ["preview", "imagenet", "--out", str(tmp_path / "x.png")]):
        res = runner.invoke(main, ["data", *args])
        assert res.exit_code == 2, (args, res.output)
        assert res.output.startswith("Error: ") and len(res.output.splitlines()) == 1
        assert res.exception is None or isinstance(res.exception, SystemExit)


@pytest.mark.parametrize(("mode", "centre", "edge"), [
    ("squash", 200, 0), ("center-crop", 200, 200), ("pad", 200, 0)])
def test_non_square_images_become_square_as_resize_says(tmp_path: Path, cache: Path, mode: str,
                                                        centre: int, edge: int) -> None:
    """A 40×20 image (bright middle half, dark sides) at 16 px: stretched, centre-cropped to
    the bright middle, or padded (black bars above and below) — the same for a folder
    (Pillow) and for an array source (torch)."""
    img = np.zeros((20, 40), dtype=np.uint8)
    img[:, 10:30] = 200
    for c in "ab":
        (tmp_path / "set" / c).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(img).save(tmp_path / "set" / c / f"{i}.png")
    np.savez(tmp_path / "set.npz", x_train=np.stack([img[..., None]] * 4),
             y_train=np.array([0, 1, 0, 1]), x_test=img[None, ..., None], y_test=np.array([0]))
    for source in (f"folder:{tmp_path / 'set'}", f"npz:{tmp_path / 'set.npz'}"):
        x = load_dataset(source, image_size=16, cache_dir=cache, resize=mode).train.x[0, ..., 0]
        assert x.shape == (16, 16)
        assert abs(int(x[8, 8]) - centre) <= 2 and abs(int(x[8, 0]) - edge) <= 2, (source, x)
        if mode == "pad":
            assert x[0, 8] == 0 and x[15, 8] == 0  # the bars
    with pytest.raises(DataError, match="unknown resize mode 'fit'"):
        load_dataset(f"npz:{tmp_path / 'set.npz'}", image_size=16, resize="fit")
