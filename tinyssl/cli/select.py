"""`tinyssl select`: which images to label next, as a CSV and a contact sheet."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import RESIZE_OPTION, THREADS_OPTION, run_or_fit
from tinyssl.data.types import DataBundle
from tinyssl.select import FEATURES, RULES


def _already_labeled(run: Path | None, labels_file: Path | None,
                     bundle: DataBundle) -> np.ndarray:
    """Images that have labels: a trained run's labelled split and a labels file's rows."""
    from tinyssl.data.labels_file import read_labels_file
    from tinyssl.data.types import Split

    parts = [np.zeros(0, dtype=np.int64)]
    if run is not None and (run / "split.npz").is_file():
        parts.append(Split.load(run / "split.npz").labeled)
    if labels_file is not None:
        parts.append(read_labels_file(labels_file, bundle)[0])
    return np.unique(np.concatenate(parts))


@click.command("select")
@click.argument("data")
@click.option("--budget", type=int, help="How many images to pick.")
@click.option("--per-class", type=int, help="Or: this many per class (× the classes).")
@click.option("--rule", type=click.Choice(RULES),
              help="typicover (default), typiclust, probcover or kcenter to start; uncertain "
                   "(the default with a trained --run) for the next round; uniform (at random) "
                   "to compare.")
@click.option("--run", type=click.Path(exists=True, file_okay=False, path_type=Path),
              callback=run_or_fit,
              help="A pretrain run (its encoder gives the features) or a trained run or fit "
                   "directory (its student: features and predictions for the next round; its "
                   "labelled images are not picked again).")
@click.option("--features", type=click.Choice(FEATURES), default="simclr", show_default=True,
              help="Without --run: a SimCLR encoder trained here (cached for next time) or "
                   "the pixels' principal components (instant).")
@click.option("--labels-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Images labelled already (a CSV from an earlier round): not picked again.")
@click.option("--image-size", type=int, help="Resize images (default: the run's size).")
@RESIZE_OPTION
@click.option("--model", default="tiny-w2a2", show_default=True,
              help="The family whose float twin learns the SimCLR features.")
@click.option("--encoder-steps", default=400, show_default=True,
              help="SimCLR steps of the encoder trained here.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("selection.csv"), show_default=True,
              help="The CSV to write; the contact sheet goes beside it (.png).")
@click.option("--format", "formats", type=click.Choice(["csv", "label-studio"]), default="csv",
              show_default=True,
              help="label-studio: also Label Studio tasks (a trained --run's guesses as "
                   "predictions), its labelling config and the images, beside the CSV.")
@click.option("--force", is_flag=True, help="Overwrite --out (it may hold labels typed in).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@THREADS_OPTION
@clean_errors
def select_command(data: str, budget: int | None, per_class: int | None, rule: str | None,
                   run: Path | None, features: str, labels_file: Path | None,
                   image_size: int | None, resize: str | None, model: str, encoder_steps: int,
                   seed: int, out: Path, formats: str, force: bool, device: str,
                   threads: int | None) -> None:
    """Pick the images of DATA worth labelling; writes a CSV to fill in and a contact sheet.

    Label the CSV's `label` column (class names), then train with `--labels-file CSV`:
    `tinyssl fit` turns selected labels into the largest gains (results/select-fit.md).
    """
    import yaml

    from tinyssl.data import load_dataset
    from tinyssl.select import budget_of, pool_of, select, train_features
    from tinyssl.select.embed import run_features, run_is_classifier
    from tinyssl.select.sheet import contact_sheet, selection_csv, sheet_captions, sheet_images
    from tinyssl.train.device import pick_device, set_threads

    if (budget is None) == (per_class is None):
        raise click.UsageError("give --budget N (images in all) or --per-class K, one of them.")
    if out.exists() and not force:
        raise click.UsageError(f"{out} exists (it may hold labels typed in); choose another "
                               "--out or add --force.")
    set_threads(threads)
    trained = run is not None and run_is_classifier(run)
    own: dict = {}
    if run is not None:
        from tinyssl.runs import find_checkpoint, load_checkpoint

        spec = load_checkpoint(find_checkpoint(run))["model_spec"]
        own = yaml.safe_load((run / "config.yaml").read_text()) or {}
        image_size = image_size or spec["image_size"]
        resize = resize or own.get("resize", "squash")
    elif image_size is None and data == "digits":
        image_size = 16  # as training does: 8×8 is smaller than any preset takes
    bundle = pool_of(load_dataset(data, image_size=image_size, resize=resize or "squash"))
    if budget is None and per_class is not None and not bundle.num_classes:
        raise click.UsageError(f"{data} has no classes yet: give --budget, not --per-class.")
    n = budget_of(budget, per_class, bundle.num_classes)
    rule = rule or ("uncertain" if trained else "typicover")
    # the run's labelled images are this data's only when the run trained on this data
    labeled = _already_labeled(run if trained and own.get("data") == data else None,
                               labels_file, bundle)
    start = time.perf_counter()
    probs = None
    if run is not None:
        feats, probs = run_features(run, bundle, pick_device(device), with_probs=trained)
    else:
        feats = train_features(features, bundle, data=data, image_size=image_size,
                               resize=resize or "squash", model=model, steps=encoder_steps,
                               seed=seed, device=device)
    embed_s = time.perf_counter() - start
    picks = select(rule, feats, n, labeled=labeled, seed=seed, probs=probs,
                   num_classes=bundle.num_classes)
    select_s = time.perf_counter() - start - embed_s
    out.parent.mkdir(parents=True, exist_ok=True)
    selection_csv(bundle, picks, out)
    sheet = out.with_suffix(".png")
    contact_sheet(sheet_images(data, bundle, picks.index, resize or "squash"), sheet,
                  sheet_captions(bundle, picks))
    known = bundle.train.y[picks.index]
    span = (f"; {len(np.unique(known[known >= 0]))} of {bundle.num_classes} classes among "
            f"the {int((known >= 0).sum())} with a label in the source" if bundle.num_classes
            else "")
    click.echo(f"picked {len(picks.index)} image(s) by {rule} ({embed_s:.1f} s features, "
               f"{select_s:.1f} s selection){span}.")
    # fit, not train: its semi-supervised teacher is where typical picks pay off (on cells
    # from-scratch training gained nothing from them; results/select.md, select-fit.md)
    then = (f"`tinyssl fit --data {data} --labels-file {out} …`" if (known >= 0).all() else
            f"`tinyssl data arrange {out} --data {data} --out DIR` (class folders to train on)")
    click.echo(f"wrote {out} and {sheet}: fill in the label column (or `tinyssl label "
               f"{out} --data {data}`), then {then}.")
    if formats == "label-studio":
        from tinyssl.label.studio import write_tasks

        tasks = write_tasks(bundle, picks, out, None if probs is None else probs[picks.index],
                            model_version=run.name if run is not None else "tinyssl")
        click.echo(f"wrote {tasks}, its labelling config (.xml) and the images: start Label "
                   f"Studio with LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true "
                   f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={out.parent.resolve()}, add that "
                   "folder as local storage, import the tasks; then `--labels-file EXPORT` "
                   "takes its JSON, JSON_MIN or CSV export.")
