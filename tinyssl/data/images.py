"""Decoding and resizing images: Pillow for files, torch for whole in-memory arrays."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from tinyssl.data.types import DataError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm"}

def is_image_name(name: str) -> bool:
    """An image file by its (posix) path: a known extension, and no hidden or macOS
    resource-fork folder (`.x`, `__MACOSX`) on the way."""
    parts = PurePosixPath(name).parts
    return (PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS
            and not any(p.startswith(".") or p == "__MACOSX" for p in parts))


Encoded = bytes | Path  # an image file's bytes (from an archive) or its path on disk


#: How a non-square image becomes square before it is resized: stretched (the default),
#: its centre cropped, or padded with black borders.
RESIZE_MODES = ("squash", "center-crop", "pad")


def square_box(height: int, width: int, mode: str) -> tuple[int, int, int]:
    """(top, left, side) of the square `mode` makes of an height×width image; top/left are
    negative for padding. Squash keeps the image as it is (side is then unused)."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode '{mode}'; choose from {', '.join(RESIZE_MODES)}.")
    side = min(height, width) if mode == "center-crop" else max(height, width)
    return (height - side) // 2, (width - side) // 2, side


def _square_array(x: np.ndarray, mode: str) -> np.ndarray:
    """N×H×W×C → N×S×S×C by centre crop or zero padding (squash: unchanged)."""
    top, left, side = square_box(x.shape[1], x.shape[2], mode)
    if mode == "squash" or x.shape[1] == x.shape[2]:
        return x
    if mode == "center-crop":
        return x[:, top:top + side, left:left + side]
    out = np.zeros((len(x), side, side, x.shape[3]), dtype=x.dtype)
    out[:, -top:-top + x.shape[1], -left:-left + x.shape[2]] = x
    return out


def decode(src: Encoded, image_size: int | None, resize: str = "squash") -> np.ndarray | None:
    """One image file → uint8 H×W×C (C = 1 for grey, 3 otherwise); None if corrupt. With
    `image_size`, non-square images are first made square as `resize` says."""
    try:
        with Image.open(src if isinstance(src, Path) else io.BytesIO(src)) as img:
            img = img.convert("L" if img.mode in ("L", "I;16", "I", "1", "LA") else "RGB")
            if image_size is not None and resize != "squash" and img.width != img.height:
                top, left, side = square_box(img.height, img.width, resize)
                img = img.crop((left, top, left + side, top + side))  # pads with black
            if image_size is not None and img.size != (image_size, image_size):
                img = img.resize((image_size, image_size), Image.Resampling.BILINEAR,
                                 reducing_gap=2.0)
            arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError):
        return None
    return arr[..., None] if arr.ndim == 2 else arr


#: ITU-R 601 luma weights (what Pillow's "L" mode uses) for RGB → grey.
LUMA = (0.299, 0.587, 0.114)


def convert_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """uint8 …×H×W×C images → …×H×W×channels (grey ↔ RGB)."""
    have = x.shape[-1]
    if have == channels:
        return x
    if channels == 3 and have == 1:
        return np.repeat(x, 3, axis=-1)
    if channels == 1 and have == 3:
        return np.rint(x.astype(np.float32) @ np.array(LUMA, np.float32))[..., None].astype(
            np.uint8)
    raise DataError(f"cannot convert {have}-channel images to {channels} channels.")


def unify_channels(images: list[np.ndarray]) -> list[np.ndarray]:
    """Mixed grey and RGB images: promote grey to RGB so one tensor holds them all."""
    if len({im.shape[-1] for im in images}) > 1:
        return [np.repeat(im, 3, axis=-1) if im.shape[-1] == 1 else im for im in images]
    return images


def resize_array(x: np.ndarray, image_size: int | None, chunk: int = 4096,
                 resize: str = "squash") -> np.ndarray:
    """Resize uint8 N×H×W×C to image_size² in chunks (bilinear, antialiased when shrinking),
    non-square images first made square as `resize` says.

    torch.interpolate over whole chunks instead of Pillow per image: one call per 4096 images.
    """
    if image_size is None or x.shape[1:3] == (image_size, image_size):
        return x
    x = _square_array(x, resize)
    if x.shape[1:3] == (image_size, image_size):
        return x
    import torch  # here, not at the top: `tinyssl data …` and `--help` start without torch
    from torch.nn import functional as F  # noqa: N812

    out = np.empty((len(x), image_size, image_size, x.shape[3]), dtype=np.uint8)
    for start in range(0, len(x), chunk):
        # np.array copies: x may be a read-only view (decoded by Pillow), torch wants writable
        t = torch.from_numpy(np.array(x[start:start + chunk])).permute(0, 3, 1, 2)
        t = F.interpolate(t.float(), size=(image_size, image_size), mode="bilinear",
                          antialias=image_size < x.shape[1], align_corners=False)
        out[start:start + chunk] = t.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return out


def check_images(x: np.ndarray, where: str) -> np.ndarray:
    """Accept N×H×W (grey) or N×H×W×{1,3} uint8; say exactly what is wrong otherwise."""
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[3] not in (1, 3):
        raise DataError(f"{where}: expected images N×H×W or N×H×W×C with C in 1, 3; "
                        f"got shape {tuple(x.shape)}.")
    if x.dtype != np.uint8:
        raise DataError(f"{where}: expected uint8 pixels, got {x.dtype}.")
    return x


def check_labels(y: np.ndarray, n_images: int, num_classes: int, where: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if len(y) != n_images:
        raise DataError(f"{where}: {len(y)} labels for {n_images} images.")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{where}: labels must be integers, got {y.dtype}.")
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        raise DataError(f"{where}: label {int(y[bad][0])} is out of range 0..{num_classes - 1} "
                        f"({int(bad.sum())} labels out of range).")
    return y.astype(np.int64)
