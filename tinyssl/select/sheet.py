"""What `tinyssl select` hands a person: the list to label (CSV) and a contact sheet (PNG).

The sheet is a plain numpy mosaic with Pillow drawing the rank under each tile, rather than
a matplotlib subplot grid: a few hundred tiles render in well under a second, and every
tile sits at a known place (the tests count them).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tinyssl.data.labels_file import image_keys
from tinyssl.data.types import DataBundle
from tinyssl.runs import atomic_write_bytes
from tinyssl.select.rules import Picks

TILE = 64  # px of each image on the sheet (resized nearest-neighbour: pixels stay sharp)
CAPTION = 12
PAD = 2
BACKGROUND = 255


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


def contact_sheet(images: np.ndarray, path: Path) -> tuple[int, int]:
    """Tiles of uint8 N×H×W×C images in rank order, rank written under each; (rows, cols)."""
    rows, cols = sheet_grid(len(images))
    cell_w, cell_h = TILE + PAD, TILE + CAPTION + PAD
    sheet = np.full((rows * cell_h + PAD, cols * cell_w + PAD, 3), BACKGROUND, np.uint8)
    for k, img in enumerate(images):
        img = np.asarray(img)
        tile = np.asarray(Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
                          .convert("RGB").resize((TILE, TILE), Image.NEAREST))
        r, c = divmod(k, cols)
        top, left = PAD + r * cell_h, PAD + c * cell_w
        sheet[top:top + TILE, left:left + TILE] = tile
    canvas = Image.fromarray(sheet)
    draw = ImageDraw.Draw(canvas)
    for k in range(len(images)):
        r, c = divmod(k, cols)
        draw.text((PAD + c * cell_w + 2, PAD + r * cell_h + TILE), str(k + 1), fill=(0, 0, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return rows, cols
