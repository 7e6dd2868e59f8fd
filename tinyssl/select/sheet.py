"""What `tinyssl select` hands a person: the list to label (CSV) and a contact sheet (PNG).

The sheet is a plain numpy mosaic with Pillow drawing rank, class and score under each tile,
rather than a matplotlib subplot grid: a few hundred tiles render in well under a second, and
every tile sits at a known place (the tests count them). Tiles are 112 px, decoded again from
the source's files where it has them: 32-px training images blown up stay unreadable.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tinyssl.data.labels_file import image_keys
from tinyssl.data.types import DataBundle
from tinyssl.runs import atomic_write_bytes
from tinyssl.select.rules import Picks

TILE = 112  # px of each image on the sheet: cell types and lesions readable at a glance
CAPTION = 28  # two caption lines under each tile: rank and class, then score
PAD = 4
BACKGROUND = 255
FONT_PX = 11


def selection_csv(bundle: DataBundle, picks: Picks, path: Path) -> None:
    """rank, file (folder sources) or index (array sources), cluster, score, and an empty
    label column for the person labelling them (`train --labels-file` reads it back)."""
    key, keys = image_keys(bundle, picks.index)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rank", key, "cluster", "score", "label"])
    for rank, (k, c, s) in enumerate(zip(keys, picks.cluster, picks.score, strict=True), 1):
        w.writerow([rank, k, int(c), f"{s:.6g}", ""])
    atomic_write_bytes(path, buf.getvalue().encode())


def sheet_grid(n: int) -> tuple[int, int]:
    """(rows, columns) of a near-square sheet of `n` tiles."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def sheet_images(data: str, bundle: DataBundle, idx: np.ndarray, resize: str) -> np.ndarray:
    """The picked training images at TILE px, decoded again from the source's own files when
    it has them (a folder or archive: only those files), so a sheet of 32-px training images
    is not blown up from 32 px; array sources (npz, digits, CIFAR batches) are what they are."""
    from tinyssl.data.folder import tree_members
    from tinyssl.data.images import convert_channels, decode

    names = bundle.train.names
    kind, _, where = data.partition(":")
    if names is None or kind != "folder" or not Path(where).exists() or not len(idx):
        return np.asarray(bundle.train.x[idx])
    wanted = {str(names[i]): k for k, i in enumerate(idx)}
    found: dict[int, np.ndarray] = {}
    for name, src in tree_members(Path(where)):
        k = wanted.get("/".join(PurePosixPath(name).parts))
        if k is not None and (img := decode(src, TILE, resize)) is not None:
            found[k] = img
        if len(found) == len(wanted):
            break
    channels = bundle.image_shape[2]
    return np.stack([convert_channels(found[k], channels) if k in found
                     else _upscaled(bundle.train.x[i]) for k, i in enumerate(idx)])


def _upscaled(img: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
                      .resize((TILE, TILE), Image.Resampling.NEAREST)).reshape(TILE, TILE, -1)


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont) -> str:
    """`text`, cut with an ellipsis to the tile's width."""
    while text and draw.textlength(text, font=font) > TILE:
        text = text[:-2] + "…"
    return text


def contact_sheet(images: np.ndarray, path: Path, captions: list[tuple[str, str]] | None = None
                  ) -> tuple[int, int]:
    """Tiles of uint8 N×H×W×C images in rank order, each drawn at TILE px (nearest-neighbour
    when smaller, so pixels stay sharp) with two caption lines under it (default: the rank);
    returns (rows, cols)."""
    rows, cols = sheet_grid(len(images))
    cell_w, cell_h = TILE + PAD, TILE + CAPTION + PAD
    sheet = np.full((rows * cell_h + PAD, cols * cell_w + PAD, 3), BACKGROUND, np.uint8)
    for k, img in enumerate(images):
        img = np.asarray(img)
        tile = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).convert("RGB")
        if tile.size != (TILE, TILE):
            tile = tile.resize((TILE, TILE), Image.Resampling.NEAREST
                               if tile.width < TILE else Image.Resampling.BILINEAR)
        r, c = divmod(k, cols)
        top, left = PAD + r * cell_h, PAD + c * cell_w
        sheet[top:top + TILE, left:left + TILE] = np.asarray(tile)
    canvas = Image.fromarray(sheet)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(FONT_PX)
    for k in range(len(images)):
        r, c = divmod(k, cols)
        x, y = PAD + c * cell_w, PAD + r * cell_h + TILE + 1
        for line, text in enumerate(captions[k] if captions else (str(k + 1), "")):
            draw.text((x, y + line * (FONT_PX + 2)), _fit_text(draw, text, font), font=font,
                      fill=(0, 0, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return rows, cols


def sheet_captions(bundle: DataBundle, picks: Picks) -> list[tuple[str, str]]:
    """'3 · neutrophil' (the source's class, '?' when it has none) and 'score 0.873'."""
    y = bundle.train.y[picks.index]
    return [(f"{rank} · {bundle.classes[int(c)] if c >= 0 else '?'}", f"score {s:.3g}")
            for rank, (c, s) in enumerate(zip(y, picks.score, strict=True), 1)]
