"""`tinyssl label SELECTION.csv`: label `tinyssl select`'s picks in a browser page (the page,
its server and the CSV it writes: tinyssl/label/)."""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path

import click
import numpy as np

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import THREADS_OPTION
from tinyssl.data.types import DataBundle, DataError, ImageSet


def _classes(bundle: DataBundle, given: str | None) -> list[str]:
    if given is None:
        if not bundle.classes:
            raise DataError(f"{bundle.name} has no class folders yet; name the classes with "
                            "--classes a,b,c.")
        return bundle.classes
    if bundle.classes:
        raise DataError(f"{bundle.name} has classes already ({', '.join(bundle.classes)}); "
                        "--classes is for data without class folders.")
    classes = [c.strip() for c in given.split(",") if c.strip()]
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise DataError("--classes needs two or more different names, comma-separated.")
    return classes


@click.command("label")
@click.argument("selection", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data", help="The data the CSV's images are from (default: --run's data).")
@click.option("--run", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A trained run or fit directory: its guess of each image is pre-selected "
                   "(Enter accepts it).")
@click.option("--classes", help="Class names, comma-separated, for data without class "
                                "folders (then `tinyssl data arrange` makes them).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, help="0 picks a free port.")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True,
              help="Open the page in the default browser.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@THREADS_OPTION
@clean_errors
def label(selection: Path, data: str | None, run: Path | None, classes: str | None, host: str,
          port: int, open_browser: bool, device: str, threads: int | None) -> None:
    """Label the images of a selection CSV in a local browser page; every answer is saved
    to the CSV at once."""
    import yaml

    from tinyssl.data import load_dataset
    from tinyssl.data.labels_file import listed_indices, read_rows
    from tinyssl.label.guesses import classifier_run, guesses
    from tinyssl.label.server import LabelApp, make_server
    from tinyssl.label.sheet import LabelSheet
    from tinyssl.select import pool_of
    from tinyssl.train.device import set_threads

    set_threads(threads)
    image_size, resize = None, "squash"
    if run is not None:
        from tinyssl.runs import find_checkpoint, load_checkpoint

        run = classifier_run(run)
        own = yaml.safe_load((run / "config.yaml").read_text()) or {}
        data = data or own.get("data")
        image_size = load_checkpoint(find_checkpoint(run))["model_spec"]["image_size"]
        resize = own.get("resize", "squash")
    if data is None:
        raise click.UsageError("give --data (the data the selection is from) or --run.")
    source = load_dataset(data, image_size=image_size, resize=resize)
    bundle = pool_of(source)
    idx = listed_indices(selection, read_rows(selection), bundle)
    sheet = LabelSheet.open(selection, _classes(bundle, classes))
    picks = DataBundle(bundle.name, bundle.classes,
                       ImageSet(bundle.train.x[idx], bundle.train.y[idx]), bundle.test)
    guessed = guesses(run, picks, device) if run is not None else [None] * len(idx)
    key = "file" if "file" in sheet.header else "index"
    app = LabelApp(sheet, sheet.column(key), np.asarray(picks.train.x), guessed,
                   f"tinyssl label: {selection.name} ({data})")
    server = make_server(app, host, port)
    url = f"http://{host}:{server.server_address[1]}/"
    click.echo(f"labelling {len(idx)} images of {data} ({sheet.labelled()} labelled already) "
               f"at {url}; press done on the page or Ctrl-C here to stop.")
    sys.stdout.flush()  # a caller reading the URL from a pipe gets it now
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    done, total = sheet.labelled(), len(idx)
    if done < total:
        click.echo(f"{done} of {total} labelled in {selection}; run the same command again to "
                   "go on.")
    elif (idx >= len(source.train)).any():  # images without a class folder in the source
        click.echo(f"all {total} labelled in {selection}; next: `tinyssl data arrange "
                   f"{selection} --data {data} --out DIR` (class folders to train on).")
    else:
        click.echo(f"all {total} labelled in {selection}; next: `tinyssl fit --data {data} "
                   f"--labels-file {selection} …`.")
