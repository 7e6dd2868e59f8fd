"""`tinyssl pretrain`, `tinyssl probe` and `tinyssl transfer`: thin wrappers over
tinyssl.train.pretext, tinyssl.pipeline.probe and tinyssl.pipeline.transfer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tinyssl.cli.errors import clean_errors
from tinyssl.cli.options import RUN_ARGUMENT, parse_method_options, runs_option
from tinyssl.cli.train import train

#: `tinyssl train` options that also make sense without labels (shared, not re-declared).
_PRETRAIN_PARAMS = ("config_file", "data", "image_size", "model", "width_mult", "steps",
                    "batch_size", "optimizer", "lr", "weight_decay", "warmup", "ema", "amp",
                    "eval_every", "seed", "device", "name", "method_options", "runs_root",
                    "progress", "log_every_s", "checkpoint_every_s", "log", "threads")


def _pretrain_params() -> list[click.Parameter]:
    by_name = {p.name: p for p in train.params}
    method = click.Option(["--method"], default=None,
                          help="simclr (default), rotation, byol, simsiam, jigsaw, autoencoder, "
                               "colorization, inpainting, exemplar, selflabel, context, "
                               "infomax.")
    twin = click.Option(["--float-twin/--no-float-twin"], default=None,
                        help="Pre-train the float twin of --model (tiny-float for tiny-w4a4), "
                             "carry it into the quantized encoder with fitted scales, then "
                             "continue the pretext on the quantized network [default: on for "
                             "a quantized --model]; --no-float-twin trains it directly.")
    quant_steps = click.Option(["--twin-quant-steps"], type=int, default=None,
                               help="With --float-twin: steps of the quantized continuation "
                                    "[default: a fifth of --steps].")
    return [method, twin, quant_steps, *(by_name[n] for n in _PRETRAIN_PARAMS)]


@clean_errors
def _pretrain(config_file: Path | None, runs_root: Path, method_options: tuple[str, ...],
              float_twin: bool | None, twin_quant_steps: int | None, **options: Any) -> None:
    """Self-supervised pre-training on every image of DATA (labels unused) → a run whose
    encoder `tinyssl train --init RUN` and `tinyssl probe RUN` use. A quantized --model
    takes the float-twin route: its float twin is pre-trained first and carried into the
    quantized run (two runs)."""
    from tinyssl.pipeline.twin_pretext import pretrain_runs
    from tinyssl.runs import read_json, read_jsonl
    from tinyssl.train.device import set_threads
    from tinyssl.train.pretext import pretrain_config

    set_threads(options.pop("threads"))

    cfg = pretrain_config(config_file, {**options,
                                        "method_options": parse_method_options(method_options)})
    *twin, run = pretrain_runs(cfg, runs_root, float_twin, twin_quant_steps)
    for path in twin:
        click.echo(f"{path}: float twin, carried into the quantized run below")
    record = read_jsonl(run / "metrics.jsonl")[-1]
    click.echo(f"{run}: {cfg.method} loss {record['loss']:.4f}, embedding std "
               f"{record.get('embed_std', float('nan')):.4f}, "
               f"{record['images_per_s']:,.0f} images/s")
    for warning in read_json(run / "summary.json").get("warnings", []):
        click.echo(f"warning: {warning}", err=True)


pretrain = click.Command("pretrain", callback=_pretrain, params=_pretrain_params(),
                         help=_pretrain.__doc__, short_help="Self-supervised pre-training.")


@click.command(short_help="Linear probe and cosine kNN on RUN's frozen encoder with a few "
               "labels of DATA, beside a random encoder's.")
@RUN_ARGUMENT
@click.option("--data", required=True, help="Source to probe on (its train set gives the "
              "labelled images, its test set the accuracy).")
@click.option("--labels", type=int, help="Total labelled images (spread over classes).")
@click.option("--labels-per-class", type=int, help="Labelled images per class.")
@click.option("--k", "k", type=int, default=20, show_default=True, help="kNN neighbours.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which labels are drawn.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--random-init", is_flag=True, help="Probe RUN's architecture at a random init "
              "(BatchNorm calibrated on DATA): the floor every pretext should beat.")
@click.option("--floor/--no-floor", default=True, show_default=True,
              help="Also probe the random-init floor on the same labels and say whether "
                   "pre-training beat it.")
@clean_errors
def probe(run: Path, data: str, labels: int | None, labels_per_class: int | None, k: int,
          seed: int, device: str, random_init: bool, floor: bool) -> None:
    """Linear probe and cosine kNN on RUN's frozen encoder with a few labels of DATA, beside
    the same probes of a random encoder (the floor)."""
    from tinyssl.pipeline.probe import probe_run

    r = probe_run(run, data, labels, labels_per_class, k, seed, device,
                  random_init=random_init, floor=floor)
    if "floor" in r:
        low = r["floor"]
        click.echo(f"random-init floor, same labels: linear probe "
                   f"{100 * low['linear_acc']:.2f}%   kNN {100 * low['knn_acc']:.2f}%")
    if r.get("verdict"):
        click.echo(f"warning: {r['verdict']}", err=True)
    click.echo(f"linear probe {100 * r['linear_acc']:.2f}%   kNN (k={r['k']}) "
               f"{100 * r['knn_acc']:.2f}%   ({r['labels']} labels, {r['test_images']} test "
               f"images) → {r['json']}")


@click.command(short_help="Pre-train on each source, fine-tune on each target: the "
               "transfer matrix.")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@runs_option("The study goes to RUNS/<name>/")
@clean_errors
def transfer(config: Path, runs_root: Path) -> None:
    """Pre-train on each source × fine-tune on each target (resumable); writes the accuracy
    matrix as markdown, CSV and a heat-map PNG."""
    from tinyssl.pipeline.transfer import run_transfer

    paths = run_transfer(config, runs_root)
    click.echo((paths["md"]).read_text())
    click.echo("wrote " + ", ".join(str(p) for p in paths.values()))
