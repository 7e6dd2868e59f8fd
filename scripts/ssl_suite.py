"""The self-supervised comparison (issue 30), written down before it is run
(results/ssl-protocol.md): every pretext, the float-twin route and the random-init floor,
linear probe and kNN at 10 labels per class, on pbc64, malaria-gray50, aid30 and flowers5,
2 seeds.

Each cell is one (data set, encoder, seed). A finished cell writes
results/ssl/cells/CELL.json, which is committed; a rerun never repeats a cell that has one,
so the comparison resumes across sessions (an interrupted cell starts over: at most minutes).

    python scripts/bench_ssl.py --suite                   # every cell not yet done, in order
    python scripts/bench_ssl.py --suite --max-cells 1 --commit
    python scripts/bench_ssl.py --suite --report          # only rebuild ssl-suite.md/.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data of a clone
SETS = {"pbc64": "folder:{}/pbc64.tgz", "malaria-gray50": "folder:{}/malaria-gray50.tgz",
        "aid30": "folder:{}/aid30.tgz", "flowers5": "folder:{}/flowers5.tgz"}
GREY_SETS = ("malaria-gray50",)
PRETEXTS = ("simclr", "rotation", "byol", "simsiam", "jigsaw", "autoencoder", "colorization",
            "inpainting", "exemplar", "selflabel", "context", "infomax")
FLOOR, TWIN = "random-init", "simclr+twin"
ENCODERS = (FLOOR, *PRETEXTS, TWIN)
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


def set_data_dir(path: Path) -> None:
    """Where the shared sets are (a git worktree elsewhere than beside ../shared)."""
    global DATA
    DATA = path.resolve()


def pretrain_options(data: str, encoder: str, seed: int) -> dict[str, Any]:
    """The protocol's pre-training: the pretext defaults, the fixed schedule, flips on."""
    return {"data": SETS[data].format(DATA), "image_size": IMAGE_SIZE, "model": MODEL,
            "method": encoder.removesuffix("+twin"), "steps": STEPS, "batch_size": BATCH,
            "eval_every": EVAL_EVERY, "seed": seed, "device": "cpu", "progress": False,
            "log": "none", "method_options": {"flip": True},
            "name": cell_name(data, encoder, seed)}


def _encoder(data: str, encoder: str, seed: int, root: Path, bundle: Any) -> tuple[Any, dict]:
    """(the cell's frozen encoder, what its pre-training recorded)."""
    import torch

    from tinyssl.data.stream import images_to_device
    from tinyssl.models import ModelSpec, load_net
    from tinyssl.pipeline import run_training
    from tinyssl.pipeline.probe import random_encoder
    from tinyssl.pipeline.twin_pretext import pretrain_float_twin
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
        runs = (pretrain_float_twin(cfg, root) if encoder == TWIN else
                (run_training(cfg, root),))
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


def report(out: Path) -> None:
    """ssl-suite.md/.json from every committed cell: per set and encoder, means over seeds,
    and whether it beats the floor of the same seeds on both probes."""
    done = [json.loads(p.read_text()) for p in sorted((out / "ssl" / "cells").glob("*.json"))]
    order = {cell_name(*c): i for i, c in enumerate(cells())}
    done.sort(key=lambda r: order.get(r["cell"], len(order)))
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
                         "beats_floor": beats,
                         "collapse_warned": any(r.get("warnings") for r in rs)})
    pct = "{:.1f}".format
    lines = ["# Self-supervised comparison: every pretext against the random-init floor", "",
             "Protocol: `results/ssl-protocol.md` (committed before any cell ran). tiny-w2a2 at "
             f"32 px, {STEPS} pre-training steps × {BATCH}; test accuracy % of a linear probe "
             f"and cosine kNN (k={K}, at most half the labels) on the frozen encoder with "
             f"{LABELS_PER_CLASS} labelled "
             "images per class (labels used: every labelled image, no validation split). "
             "Means over the finished seeds; pre-training seconds on a shared 2-core machine "
             "(noisy). Beats floor: above the random-init floor of the same seeds on both "
             "probes.", "", f"{len(done)} of {len(cells())} cells finished.", "",
             "| data | encoder | seeds | labels used | linear probe | kNN | pre-train s "
             "| beats floor |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        beats = {None: "–", True: "yes", False: "**no**"}[r["beats_floor"]]
        warn = " (collapse warned)" if r["collapse_warned"] else ""
        lines.append(f"| {r['data']} | {r['encoder']}{warn} | "
                     f"{','.join(map(str, r['seeds']))} | {r['labels_used']:.0f} | "
                     f"{pct(100 * r['linear_acc'])} | {pct(100 * r['knn_acc'])} | "
                     f"{r['pretrain_s']:.0f} | {beats} |")
    (out / "ssl-suite.md").write_text("\n".join(lines) + "\n")
    (out / "ssl-suite.json").write_text(json.dumps({"rows": rows, "cells": done}, indent=2))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", action="store_true")
    ap.add_argument("--runs", type=Path, default=Path("runs/ssl-suite"))
    ap.add_argument("--out", type=Path, default=Path("results"))
    ap.add_argument("--max-cells", type=int, default=None, help="stop after this many")
    ap.add_argument("--cells", nargs="+", help="only these cells (names as in the files)")
    ap.add_argument("--commit", action="store_true", help="git-commit each finished cell")
    ap.add_argument("--report", action="store_true", help="only rebuild the report")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--data-dir", type=Path, default=DATA, help="the shared data sets")
    args = ap.parse_args(argv)
    set_data_dir(args.data_dir)
    if not args.report:
        import torch

        torch.set_num_threads(args.threads)
    cell_dir = args.out / "ssl" / "cells"
    cell_dir.mkdir(parents=True, exist_ok=True)
    ran = 0
    for data, encoder, seed in ([] if args.report else cells()):
        name = cell_name(data, encoder, seed)
        if (cell_dir / f"{name}.json").is_file() or (args.cells and name not in args.cells):
            continue
        if args.max_cells is not None and ran >= args.max_cells:
            break
        result = run_cell(data, encoder, seed, args.runs)
        (cell_dir / f"{name}.json").write_text(json.dumps(result, indent=2))
        report(args.out)
        ran += 1
        print(f"{name}: linear {100 * result['linear_acc']:.1f} %, kNN "
              f"{100 * result['knn_acc']:.1f} % ({result['wall_s']:.0f} s)", flush=True)
        if args.commit:
            subprocess.run(["git", "add", str(cell_dir / f"{name}.json"),
                            str(args.out / "ssl-suite.md"), str(args.out / "ssl-suite.json")],
                           check=False)
            subprocess.run(["git", "commit", "-q", "-m", f"ssl suite: cell {name} (linear "
                            f"{100 * result['linear_acc']:.1f} %, kNN "
                            f"{100 * result['knn_acc']:.1f} %)", "--",
                            str(cell_dir / f"{name}.json"), str(args.out / "ssl-suite.md"),
                            str(args.out / "ssl-suite.json")], check=False)
    report(args.out)
    print((args.out / "ssl-suite.md").read_text())


if __name__ == "__main__":
    main()
