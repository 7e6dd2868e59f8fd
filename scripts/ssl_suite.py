"""The self-supervised comparison (issue 30), written down before it is run
(results/ssl-protocol.md, version 2): every pretext on `tinyssl pretrain`'s default route
(the float twin, carried into the quantized encoder), direct quantized SimCLR (version 1's
route) and the random-init floor, linear probe and kNN at 10 labels per class, on pbc64,
malaria-gray50, aid30 and flowers5, 2 seeds.

Each cell is one (data set, encoder, seed). A finished cell writes
results/ssl/cells/CELL.json, which is committed; a rerun never repeats a cell that has one,
so the comparison resumes across sessions (an interrupted cell starts over: at most
minutes). `python scripts/bench_ssl.py --suite` runs it; scripts/suite_runner.py has the
options.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import suite_runner
from suite_runner import mean_pm

RUNS = "runs/ssl-suite"  # run directories (--runs)
CELLS = "ssl"  # results/CELLS/cells/*.json
REPORT = "ssl-suite"  # results/REPORT.md and .json
DATA = suite_runner.SHARED_DATA  # --data-dir replaces it
SETS = {"pbc64": "folder:{}/pbc64.tgz", "malaria-gray50": "folder:{}/malaria-gray50.tgz",
        "aid30": "folder:{}/aid30.tgz", "flowers5": "folder:{}/flowers5.tgz"}
GREY_SETS = ("malaria-gray50",)
PRETEXTS = ("simclr", "rotation", "byol", "simsiam", "jigsaw", "autoencoder", "colorization",
            "inpainting", "exemplar", "selflabel", "context", "infomax")
FLOOR, DIRECT = "random-init", "simclr-direct"  # direct: quantized from scratch, no twin
ENCODERS = (FLOOR, *PRETEXTS, DIRECT)
SEEDS = (0, 1)
IMAGE_SIZE, MODEL, LABELS_PER_CLASS, K = 32, "tiny-w2a2", 10, 20
STEPS, BATCH, EVAL_EVERY = 200, 64, 40


def cells() -> list[tuple[str, str, int]]:
    """Every (set, encoder, seed) in run order: seed 0 set by set, then seed 1."""
    return [(s, e, seed) for seed in SEEDS for s in SETS for e in ENCODERS
            if not (e == "colorization" and s in GREY_SETS)]  # colours from grey: none


def knn_k(labels: int) -> int:
    """K, capped at half the labelled images: a vote over every labelled image predicts one
    class for every test image (malaria's 20 labels at k = 20: a 10–10 tie, 50.0 % always)."""
    return max(1, min(K, labels // 2))


def cell_name(data: str, encoder: str, seed: int) -> str:
    return f"{data}-{encoder}-s{seed}"



def pretrain_options(data: str, encoder: str, seed: int) -> dict[str, Any]:
    """The protocol's pre-training: the pretext defaults, the fixed schedule, flips on (the
    float-twin route is `pretrain_runs`' default, not an option here)."""
    return {"data": SETS[data].format(DATA), "image_size": IMAGE_SIZE, "model": MODEL,
            "method": encoder.removesuffix("-direct"), "steps": STEPS, "batch_size": BATCH,
            "eval_every": EVAL_EVERY, "seed": seed, "device": "cpu", "progress": False,
            "log": "none", "method_options": {"flip": True},
            "name": cell_name(data, encoder, seed)}


def _encoder(data: str, encoder: str, seed: int, root: Path, bundle: Any) -> tuple[Any, dict]:
    """(the cell's frozen encoder, what its pre-training recorded)."""
    import torch

    from tinyssl.data.stream import images_to_device
    from tinyssl.models import ModelSpec, load_net
    from tinyssl.pipeline.probe import random_encoder
    from tinyssl.pipeline.twin_pretext import pretrain_runs
    from tinyssl.runs import read_json, read_jsonl
    from tinyssl.train.pretext import pretrain_config

    if encoder == FLOOR:
        h, _, c = bundle.image_shape
        spec = ModelSpec(MODEL, c, h, bundle.num_classes)
        x = images_to_device(bundle.train.x, torch.device("cpu"))
        return random_encoder(spec, x, seed), {"pretrain_s": 0.0}
    root = root / cell_name(data, encoder, seed)
    shutil.rmtree(root, ignore_errors=True)  # an interrupted cell starts over
    cfg = pretrain_config(None, pretrain_options(data, encoder, seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = pretrain_runs(cfg, root, float_twin=False if encoder == DIRECT else None)
    seconds = sum(read_json(r / "summary.json")["train_time_s"] for r in runs)
    last = read_jsonl(runs[-1] / "metrics.jsonl")[-1]
    return load_net(runs[-1])[0].encoder, {
        "pretrain_s": seconds, "steps": [read_json(r / "summary.json").get("steps")
                                         for r in runs],
        "embed_std": last.get("embed_std"), "runs": [str(r) for r in runs],
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught
                            if "Collapse" in w.category.__name__})}


def run_cell(data: str, encoder: str, seed: int, root: Path) -> dict[str, Any]:
    from tinyssl.data import load_dataset, make_split
    from tinyssl.pipeline.probe import probe_encoder

    started = time.perf_counter()
    bundle = load_dataset(SETS[data].format(DATA), image_size=IMAGE_SIZE)
    split = make_split(bundle, bundle.num_classes, labels_per_class=LABELS_PER_CLASS,
                       val_per_class=0, seed=seed)
    net, recorded = _encoder(data, encoder, seed, root, bundle)
    probe = probe_encoder(net, bundle, split.labeled, knn_k(len(split.labeled)), "cpu")
    return {"cell": cell_name(data, encoder, seed), "data": data, "encoder": encoder,
            "seed": seed, "labels_used": len(split.labeled) + len(split.val),
            "linear_acc": probe["linear_acc"], "knn_acc": probe["knn_acc"],
            "k": probe["k"], "test_images": probe["test_images"],
            "feature_dim": probe["feature_dim"],
            **recorded, "wall_s": time.perf_counter() - started}


def report(done: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """ssl-suite.md and its rows from the finished cells (in run order): per set and
    encoder, means over seeds, and whether it beats the floor of the same seeds on both
    probes."""
    from tinyssl.pipeline.twin_pretext import QUANT_STEPS_FRACTION

    by_cell = {(r["data"], r["encoder"], r["seed"]): r for r in done}
    rows = []
    for data in SETS:
        for encoder in ENCODERS:
            rs = [by_cell[(data, encoder, s)] for s in SEEDS if (data, encoder, s) in by_cell]
            if not rs:
                continue
            seeds = [r["seed"] for r in rs]
            floor = [by_cell.get((data, FLOOR, s)) for s in seeds]
            mean = {c: statistics.mean(r[c] for r in rs)
                    for c in ("linear_acc", "knn_acc", "pretrain_s", "labels_used")}
            beats = None
            if encoder != FLOOR and all(floor):
                beats = all(mean[c] > statistics.mean(f[c] for f in floor)  # type: ignore[index]
                            for c in ("linear_acc", "knn_acc"))
            rows.append({"data": data, "encoder": encoder, "seeds": seeds, **mean,
                         "per_seed": {c: [r[c] for r in rs] for c in ("linear_acc", "knn_acc")},
                         "beats_floor": beats,
                         "collapse_warned": any(r.get("warnings") for r in rs)})
    lines = ["# Self-supervised comparison: every pretext against the random-init floor", "",
             "Protocol: `results/ssl-protocol.md`, version 2 (committed before any of its cells "
             f"ran; version 1's direct route: `results/ssl-suite-v1.md`). tiny-w2a2 at 32 px; "
             f"every pretext on the default float-twin route ({STEPS} float steps × {BATCH}, "
             f"then {round(QUANT_STEPS_FRACTION * STEPS)} quantized), simclr-direct quantized "
             f"from scratch for {STEPS} steps; test accuracy % of a linear probe "
             f"and cosine kNN (k={K}, at most half the labels) on the frozen encoder with "
             f"{LABELS_PER_CLASS} labelled "
             "images per class (labels used: every labelled image, no validation split). "
             "Mean ± std over the finished seeds; pre-training seconds on a shared 2-core machine "
             "(noisy). Beats floor: above the random-init floor of the same seeds on both "
             "probes.", "", f"{len(done)} of {len(cells())} cells finished.", "",
             "| data | encoder | seeds | labels used | linear probe | kNN | pre-train s "
             "| beats floor |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        beats = {None: "–", True: "yes", False: "**no**"}[r["beats_floor"]]
        warn = " (collapse warned)" if r["collapse_warned"] else ""
        lines.append(f"| {r['data']} | {r['encoder']}{warn} | "
                     f"{','.join(map(str, r['seeds']))} | {r['labels_used']:.0f} | "
                     f"{mean_pm(r['per_seed']['linear_acc'])} | "
                     f"{mean_pm(r['per_seed']['knn_acc'])} | "
                     f"{r['pretrain_s']:.0f} | {beats} |")
    return "\n".join([*lines, "", *above_floor_table(rows)]) + "\n", rows


def above_floor_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: per encoder and set, points above the floor's mean (linear / kNN),
    and on how many sets it beats the floor on both probes."""
    by = {(r["data"], r["encoder"]): r for r in rows}
    lines = ["Points above the random-init floor (linear / kNN; the floor row: its accuracy %):",
             "", "| encoder | " + " | ".join(SETS) + " | above the floor on both probes |",
             "| --- |" + " --- |" * (len(SETS) + 1)]
    for encoder in ENCODERS:
        cells, wins, sets = [], 0, 0
        for data in SETS:
            r, f = by.get((data, encoder)), by.get((data, FLOOR))
            if r is None or f is None:
                cells.append("–")
                continue
            if encoder == FLOOR:
                cells.append(f"{100 * f['linear_acc']:.1f} / {100 * f['knn_acc']:.1f}")
                continue
            cells.append(" / ".join(f"{100 * (r[c] - f[c]):+.1f}"
                                    for c in ("linear_acc", "knn_acc")))
            sets += r["beats_floor"] is not None
            wins += r["beats_floor"] is True
        count = "–" if encoder == FLOOR else f"{wins} of {sets}"
        lines.append(f"| {encoder} | " + " | ".join(cells) + f" | {count} |")
    return lines


def summary(r: dict[str, Any]) -> str:
    """One line of a finished cell (printed, and the commit message)."""
    return (f"linear {100 * r['linear_acc']:.1f} %, kNN {100 * r['knn_acc']:.1f} %, "
            f"{r['wall_s']:.0f} s")


def main(argv: list[str] | None = None) -> None:
    suite_runner.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
