"""`tinyssl data info|preview SOURCE`: look at the data before training on it;
`tinyssl data arrange`: labelled selections → class folders."""

from __future__ import annotations

import warnings
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from tinyssl.cli.errors import BadInput, clean_errors
from tinyssl.data import SOURCES, DataBundle, DataError, load_dataset, make_split
from tinyssl.data.images import RESIZE_MODES

SOURCE_HELP = f"Data source: {', '.join(SOURCES)}."


RESIZE = click.option("--resize", type=click.Choice(RESIZE_MODES),
                      default="squash", show_default=True,
                      help="How non-square images become square before resizing.")


def _load(source: str, image_size: int | None, resize: str = "squash") -> DataBundle:
    """Load, turning DataError into a clean CLI error and warnings (skipped files) into
    one plain line each."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            bundle = load_dataset(source, image_size, resize=resize)
    except DataError as e:
        raise BadInput(str(e)) from None
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    return bundle


@click.group()
def data() -> None:
    """Inspect data sources (classes, counts, sample images)."""


@data.command()
@click.argument("source")
@click.option("--image-size", type=int, default=None, help="Resize to this square size.")
@RESIZE
@click.option("--labels", type=int, default=None, help="Show the split for N labels in total.")
@click.option("--labels-per-class", type=int, default=None,
              help="Show the split for K labels per class.")
@click.option("--val-per-class", type=int, default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def info(source: str, image_size: int | None, resize: str, labels: int | None,
         labels_per_class: int | None, val_per_class: int, seed: int) -> None:
    """Classes, counts per split and class, and image shape of SOURCE.

    With --labels or --labels-per-class, also the labelled / validation / unlabelled
    split a training run with the same options and seed would use.
    """
    b = _load(source, image_size, resize)
    columns = {"train": b.train.y, "test": b.test.y}
    if labels is not None or labels_per_class is not None:
        try:
            s = make_split(b, b.num_classes, labels, labels_per_class, val_per_class, seed)
        except DataError as e:
            raise BadInput(str(e)) from None
        columns |= {"labelled": b.train.y[s.labeled], "val": b.train.y[s.val],
                    "unlabelled": b.train.y[s.unlabeled]}
    table = Table()
    table.add_column("class")
    for name in columns:
        table.add_column(name, justify="right")
    counts = {k: np.bincount(y, minlength=b.num_classes) for k, y in columns.items()}
    for c, name in enumerate(b.classes):
        table.add_row(name, *(str(int(n[c])) for n in counts.values()))
    table.add_row("[bold]total", *(f"[bold]{len(y)}" for y in columns.values()))
    console = Console()
    # Title and shape as plain lines: a table caption would wrap to the table's width.
    console.print(f"[bold]{b.name}[/bold]: {b.num_classes} classes, images "
                  f"{'×'.join(map(str, b.image_shape))} (H×W×C) uint8"
                  + ("" if image_size is None else _resized_from(source, resize)),
                  highlight=False, soft_wrap=True)
    console.print(table)
    if b.unlabeled is not None:
        console.print(f"unlabelled (source-provided): {len(b.unlabeled)}")


#: What each resize mode does to a non-square image, for `data info`.
RESIZE_WORDS = {"squash": "non-square images are stretched",
                "center-crop": "non-square images are centre-cropped",
                "pad": "non-square images are padded with black"}


def _resized_from(source: str, resize: str) -> str:
    """', resized from the source's 64×48 px (--resize squash: …)': what
    --image-size did, from the images at their own size (mixed sizes cannot load so)."""
    try:
        h, w, _ = load_dataset(source, None, resize=resize).image_shape
        own = f"the source's {h}×{w} px"
    except (DataError, ValueError):
        own = "the source's images of mixed sizes"
    return f", resized from {own} (--resize {resize}: {RESIZE_WORDS[resize]})"


@data.command()
@click.argument("source")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="preview.png",
              show_default=True)
@click.option("--per-class", default=8, show_default=True, help="Images per class (one row).")
@click.option("--image-size", type=int, default=None)
@RESIZE
@click.option("--seed", default=0, show_default=True)
@clean_errors
def preview(source: str, out: Path, per_class: int, image_size: int | None, resize: str,
            seed: int) -> None:
    """A PNG grid of random training images, one row per class."""
    import io

    import matplotlib

    from tinyssl.runs import atomic_write_bytes

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = _load(source, image_size, resize)
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(b.num_classes, per_class, squeeze=False,
                             figsize=(per_class * 0.9 + 1.5, b.num_classes * 0.9))
    for c, name in enumerate(b.classes):
        idx = np.flatnonzero(b.train.y == c)
        pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False)
        for j, ax in enumerate(axes[c]):
            ax.axis("off")
            if j < len(pick):
                img = np.asarray(b.train.x[pick[j]])
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray",
                          vmin=0, vmax=255)
        axes[c][0].text(-0.1, 0.5, name, transform=axes[c][0].transAxes, ha="right",
                        va="center", fontsize=8)
    fig.suptitle(b.name, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())
    click.echo(f"wrote {out}")


@data.command()
@click.argument("labels_csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", "source", required=True,
              help="The folder or archive the CSV's files belong to (folder:PATH).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="New folder to write (never an existing one).")
@clean_errors
def arrange(labels_csv: Path, source: str, out: Path) -> None:
    """Copy the images of a labelled selection CSV into OUT/train/<label>/, the rest into
    OUT/unlabeled/ (images that had a class keep it): a folder `train` reads."""
    from tinyssl.data.arrange import arrange as arrange_tree

    path = Path(source.removeprefix("folder:")).expanduser()
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    counts = arrange_tree(path, labels_csv, out)
    unlabeled = counts.pop("unlabeled", 0)
    listing = ", ".join(f"{name} {n}" for name, n in counts.items())
    click.echo(f"wrote {out}: train/ {listing}; unlabeled/ {unlabeled}.")
    tests = out / "test"
    if not tests.is_dir():
        click.echo("no test/ folder: training holds out 20 % of each class's labelled images "
                   f"as the test set. Labelled images in {tests}/<class>/ give a fairer measure; "
                   "with a few labels per class train with --val-per-class 0 or 1.")
