"""`tinyssl data info|preview SOURCE`: look at the data before training on it."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from tinyssl.data import SOURCES, DataError, load_dataset

SOURCE_HELP = f"Data source: {', '.join(SOURCES)}."


def _load(source: str, image_size: int | None):  # noqa: ANN202 - click helper
    try:
        return load_dataset(source, image_size)
    except DataError as e:
        raise click.ClickException(str(e)) from None


@click.group()
def data() -> None:
    """Inspect data sources (classes, counts, sample images)."""


@data.command()
@click.argument("source")
@click.option("--image-size", type=int, default=None, help="Resize to this square size.")
def info(source: str, image_size: int | None) -> None:
    """Classes, counts per split and class, and image shape of SOURCE."""
    b = _load(source, image_size)
    table = Table(title=b.name, caption=f"{b.num_classes} classes · images "
                  f"{'×'.join(map(str, b.image_shape))} (H×W×C) uint8")
    table.add_column("class")
    table.add_column("train", justify="right")
    table.add_column("test", justify="right")
    for c, name in enumerate(b.classes):
        table.add_row(name, str(int(np.sum(b.train.y == c))), str(int(np.sum(b.test.y == c))))
    table.add_row("[bold]total", f"[bold]{len(b.train)}", f"[bold]{len(b.test)}")
    console = Console()
    console.print(table)
    if b.unlabeled is not None:
        console.print(f"unlabelled (source-provided): {len(b.unlabeled)}")


@data.command()
@click.argument("source")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="preview.png",
              show_default=True)
@click.option("--per-class", default=8, show_default=True, help="Images per class (one row).")
@click.option("--image-size", type=int, default=None)
@click.option("--seed", default=0, show_default=True)
def preview(source: str, out: Path, per_class: int, image_size: int | None, seed: int) -> None:
    """A PNG grid of random training images, one row per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = _load(source, image_size)
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
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    click.echo(f"wrote {out}")
