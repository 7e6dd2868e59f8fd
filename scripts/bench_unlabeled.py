"""Benchmark: accuracy, macro-F1 and time-to-accuracy against the amount of unlabelled data,
with the labels held fixed (the autoencoder study the project's origin cites).

Blood cells (pbc64 at 32 px), 10 labels per class, tiny-w2a2. For each unlabelled-pool cap
(`--unlabeled`, drawn with the seed; labelled and validation images are never in it):
- fixmatch: FixMatch on the labels + the capped pool (0 = supervised on the labels only);
- simclr: SimCLR pre-training on the capped pool, then supervised fine-tuning on the labels
  (0 = the same fine-tuning from a random initialisation);
- fit: the teacher → student recipe (`tinyssl fit`: float FixMatch teacher for 3× the steps,
  float init, distillation) on the labels + the capped pool; the distilled student is
  reported, training time is teacher + student (0 = supervised on the labels, as fixmatch).
Each run is its own process (2 workers × 1 thread on 2 cores).

    .venv/bin/python scripts/bench_unlabeled.py [--amounts 0 1000 4000 all] [--seeds 0 1]
Results: results/unlabeled.{md,json} and results/unlabeled.png.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = f"folder:{REPO.parent / 'shared' / 'data' / 'pbc64.tgz'}"
BASE = {"data": DATA, "image_size": 32, "labels_per_class": 10, "val_per_class": 10,
        "model": "tiny-w2a2", "batch_size": 32, "eval_every": 50, "device": "cpu",
        "progress": False, "target_acc": 0.5}
VIEWS = {"flip": True, "randaugment_policy": "mild"}
PRETRAIN = {"method": "simclr", "method_options": {"temperature": 0.5, "flip": True},
            "steps": 400, "batch_size": 128, "optimizer": "adam", "lr": 0.01,
            "eval_every": 100}
FINETUNE = {"method": "supervised", "method_options": {"flip": True}, "optimizer": "adam",
            "lr": 0.01, "steps": 400}


def run_one(job: tuple[str, str, int, int, str]) -> dict[str, Any]:
    """One (method, amount, seed) cell in its own process; finished cells are reused."""
    import torch

    from tinyssl.config import load_config
    from tinyssl.pipeline import run_training
    from tinyssl.runs import read_json

    torch.set_num_threads(1)
    method, amount, seed, steps, root = job
    cap = None if amount == "all" else float(amount)
    cell = Path(root) / f"{method}-{amount}-s{seed}"
    if method == "fit" and cap != 0:
        return _fit_cell(cell, cap, seed, steps, method, amount)
    done = next(cell.glob("final*/summary.json"), None)
    if done is None:
        init = None
        if method == "simclr" and cap != 0:
            pre = run_training(load_config(None, {**BASE, **PRETRAIN, "labels_per_class": None,
                                                  "unlabeled": cap, "seed": seed,
                                                  "name": "pretrain"}), cell)
            init = str(pre)
        if method in ("fixmatch", "fit") and cap != 0:
            cfg = {**BASE, "method": "fixmatch", "method_options": {**VIEWS, "threshold": 0.8},
                   "unlabeled": cap, "steps": steps}
        elif method in ("fixmatch", "fit"):
            cfg = {**BASE, "method": "supervised", "method_options": {"flip": True},
                   "steps": steps}
        else:
            cfg = {**BASE, **FINETUNE, "init": init}
        done = run_training(load_config(None, {**cfg, "seed": seed, "name": "final"}),
                            cell) / "summary.json"
    s = read_json(done)
    pretrain = next(cell.glob("pretrain*/summary.json"), None)
    return {"method": method, "amount": amount, "seed": seed, "test_acc": s["test_acc"],
            "macro_f1": s["test_macro_f1"], "time_to_target_s": s["time_to_target_s"],
            "train_time_s": s["train_time_s"] + (read_json(pretrain)["train_time_s"]
                                                 if pretrain else 0.0)}


def _fit_cell(cell: Path, cap: float | None, seed: int, steps: int, method: str,
              amount: str) -> dict[str, Any]:
    from tinyssl.pipeline.fit import FIT_FILE, FitConfig, save_fit_config, start_fit
    from tinyssl.runs import read_json

    # the old protocol's fixed recipe (results/unlabeled.md); fit no longer holds out
    # val_per_class extra labels, so a rerun validates on none
    cfg = FitConfig.load(None, {"data": DATA, "image_size": 32, "labels_per_class": 10,
                                "auto": False, "unlabeled": cap, "steps": steps,
                                "method_options": VIEWS, "hardware": False,
                                "baseline": False, "float_init_ablation": False,
                                "progress": False, "device": "cpu", "seed": seed})
    if not (cell / "student" / "summary.json").is_file():
        if not (cell / FIT_FILE).is_file():
            save_fit_config(cfg, cell)
        start_fit(cfg, cell.parent, resume=cell, echo=lambda *_: None)
    s, teacher = read_json(cell / "student" / "summary.json"), read_json(
        cell / "teacher" / "summary.json")
    return {"method": method, "amount": amount, "seed": seed, "test_acc": s["test_acc"],
            "macro_f1": s["test_macro_f1"], "time_to_target_s": s["time_to_target_s"],
            "train_time_s": s["train_time_s"] + teacher["train_time_s"]}


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for key in dict.fromkeys((r["method"], r["amount"]) for r in rows):
        cell = [r for r in rows if (r["method"], r["amount"]) == key]
        times = [r["time_to_target_s"] for r in cell if r["time_to_target_s"] is not None]
        out.append({
            "method": key[0], "amount": key[1], "seeds": len(cell),
            **{m: (statistics.mean(r[m] for r in cell),
                   statistics.stdev(r[m] for r in cell) if len(cell) > 1 else 0.0)
               for m in ("test_acc", "macro_f1", "train_time_s")},
            "time_to_target_s": statistics.mean(times) if times else None,
            "reached_target": f"{len(times)}/{len(cell)}"})
    return out


def plot(table: list[dict[str, Any]], pool: dict[str, int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for method in dict.fromkeys(r["method"] for r in table):
        rows = [r for r in table if r["method"] == method]
        x = [pool[r["amount"]] for r in rows]
        for ax, metric in zip(axes[:2], ("test_acc", "macro_f1"), strict=True):
            ax.errorbar(x, [100 * r[metric][0] for r in rows],
                        yerr=[100 * r[metric][1] for r in rows], marker="o", label=method,
                        capsize=3)
        axes[2].plot(x, [r["time_to_target_s"] or float("nan") for r in rows], marker="o",
                     label=method)
    for ax, label in zip(axes, ("test accuracy (%)", "macro-F1 (%)",
                                "seconds to 50 % validation accuracy"), strict=True):
        ax.set(xlabel="unlabelled images", ylabel=label)
        ax.set_xscale("symlog", linthresh=500)  # 0 beside 1k … 13k
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("pbc64 (32 px), 10 labels per class, tiny-w2a2", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=["fixmatch", "simclr"])
    ap.add_argument("--amounts", nargs="+", default=["0", "1000", "4000", "all"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--steps", type=int, default=1000, help="FixMatch / supervised steps")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-unlabeled"))
    ap.add_argument("--out", type=Path, default=Path("results"))
    args = ap.parse_args()
    jobs = [(m, a, s, args.steps, str(args.runs)) for m in args.methods for a in args.amounts
            for s in args.seeds]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        rows = pool.map(run_one, jobs, chunksize=1)
    from tinyssl.data import load_dataset, make_split
    from tinyssl.report.tables import mean_pm

    bundle = load_dataset(DATA, 32)
    split = make_split(bundle, bundle.num_classes, labels_per_class=10, val_per_class=10)
    full = len(split.unlabeled)
    pool_size = {a: full if a == "all" else min(int(a), full) for a in args.amounts}
    table = summarise(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "unlabeled.json").write_text(json.dumps(
        {"rows": rows, "table": table, "pool": pool_size, "args": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}, indent=2))
    plot(table, pool_size, args.out / "unlabeled.png")
    lines = ["# Accuracy against the amount of unlabelled data (`scripts/bench_unlabeled.py`)",
             "",
             f"`python scripts/bench_unlabeled.py --methods {' '.join(args.methods)} --amounts "
             f"{' '.join(args.amounts)} --seeds {' '.join(map(str, args.seeds))} --steps "
             f"{args.steps}` on CPU ({args.workers} workers × 1 thread). pbc64 at 32 px, 10 "
             "labels per class (80), tiny-w2a2. fixmatch: FixMatch (τ 0.8, mild RandAugment, "
             f"{args.steps} steps) on the labels + the capped pool; 0 = supervised on the "
             "labels. simclr: SimCLR (400 steps, batch 128, Adam) on the capped pool, then "
             "400 supervised fine-tuning steps (Adam 0.01); 0 = the same fine-tuning from "
             "random weights. Time to 50 % validation accuracy is the mean over the seeds "
             "that reached it; training time includes pre-training.", "",
             "| method | unlabelled images | test acc % | macro-F1 % | s to 50 % val | "
             "reached | training s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in table:
        t = "–" if r["time_to_target_s"] is None else f"{r['time_to_target_s']:.0f}"
        lines.append(f"| {r['method']} | {pool_size[r['amount']]:,} | "
                     f"{mean_pm(*r['test_acc'], r['seeds'])} | "
                     f"{mean_pm(*r['macro_f1'], r['seeds'])} | {t} | "
                     f"{r['reached_target']} | {r['train_time_s'][0]:.0f} |")
    lines += ["", "![accuracy against unlabelled images](unlabeled.png)", ""]
    (args.out / "unlabeled.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
