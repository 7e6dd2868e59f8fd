"""Semi-supervised benchmark: supervised vs UDA vs pseudo-label growth vs FixMatch.

Settings (real data from ../shared/data): mnist5k at 4 and 25 labels per class (28×28) and
pbc64 blood cells at 25 labels per class (resized to 32×32), each method over several seeds,
plus supervised on all labels as the ceiling. Also measures training throughput of the
engine beside a bare PyTorch loop on the same model, so the engine's overhead is visible.

    python scripts/bench_semisup.py                      # full (CPU: hours)
    python scripts/bench_semisup.py --steps 300 --seeds 0 --settings mnist5k-4   # quick

Writes results/semisup.json and results/semisup.md (the table quoted in the README).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from tinyssl.config import load_config
from tinyssl.train import run_training

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETTINGS: dict[str, dict[str, Any]] = {
    "mnist5k-4": {"data": f"npz:{DATA / 'mnist5k.npz'}", "labels_per_class": 4,
                  "image_size": 28},
    "mnist5k-25": {"data": f"npz:{DATA / 'mnist5k.npz'}", "labels_per_class": 25,
                   "image_size": 28},
    "pbc64-25": {"data": f"folder:{DATA / 'pbc64.tgz'}", "labels_per_class": 25,
                 "image_size": 32, "method_options": {"flip": True}},
}
#: label → (method, extra config). "supervised-all" is the ceiling (every training label).
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "supervised": ("supervised", {}),
    "uda": ("uda", {}),
    "pseudolabel": ("pseudolabel", {}),
    "fixmatch": ("fixmatch", {}),
    "supervised-all": ("supervised", {"labels_per_class": None}),
}


def bare_loop_images_per_s(cfg_overrides: dict[str, Any], steps: int) -> float:
    """The same model and batch size in the plainest loop: random batches from an in-memory
    tensor, no augmentation, EMA, validation or checkpoints."""
    from tinyssl.data import load_dataset
    from tinyssl.models import build_model

    cfg = load_config(None, cfg_overrides)
    bundle = load_dataset(cfg.data, image_size=cfg.image_size)
    h, _, c = bundle.image_shape
    net = build_model(cfg.model, c, h, bundle.num_classes, cfg.width_mult)
    x = torch.from_numpy(bundle.train.x).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(bundle.train.y)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True)
    net.train()
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(len(x), (cfg.batch_size,))
        loss = torch.nn.functional.cross_entropy(net(x[idx].float() / 255), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * cfg.batch_size / (time.perf_counter() - start)


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--model", default="tiny-w2a2")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-semisup"))
    ap.add_argument("--out", type=Path, default=Path("results"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    rows: list[dict[str, Any]] = []
    for setting in args.settings:
        for label in args.methods:
            method, extra = METHODS[label]
            accs, f1s, speeds = [], [], []
            for seed in args.seeds:
                over = {**SETTINGS[setting], "model": args.model, "method": method,
                        "steps": args.steps, "batch_size": args.batch_size, "seed": seed,
                        "eval_every": max(50, args.steps // 20), "progress": False,
                        "device": "cpu", **extra}
                over = {k: v for k, v in over.items() if v is not None}  # None: all labels
                run = run_training(load_config(None, over), args.runs / setting / label)
                s = json.loads((run / "summary.json").read_text())
                accs.append(s["test_acc"])
                f1s.append(s["test_macro_f1"])
                speeds.append(s["images_per_s"])
                print(f"{setting:11s} {label:15s} seed {seed}: acc {s['test_acc']:.4f} "
                      f"({s['images_per_s']:.0f} img/s)", flush=True)
            rows.append({"setting": setting, "method": label, "seeds": args.seeds,
                         "test_acc": mean_std(accs), "test_macro_f1": mean_std(f1s),
                         "images_per_s": statistics.mean(speeds), "accs": accs})

    base = {**SETTINGS[args.settings[0]], "model": args.model, "batch_size": args.batch_size}
    bare = bare_loop_images_per_s(base, steps=min(200, args.steps))
    engine = next((r["images_per_s"] for r in rows if r["method"] == "supervised"
                   and r["setting"] == args.settings[0]), None)
    meta = {"steps": args.steps, "seeds": args.seeds, "model": args.model,
            "batch_size": args.batch_size, "threads": args.threads,
            "cpu": platform.processor() or platform.machine(),
            "bare_loop_images_per_s": bare, "engine_supervised_images_per_s": engine,
            "throughput_setting": args.settings[0]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "semisup.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        "# Semi-supervised benchmark", "",
        f"`python scripts/bench_semisup.py --steps {args.steps} --seeds "
        f"{' '.join(map(str, args.seeds))} --model {args.model}` on CPU "
        f"({args.threads} threads). Test accuracy, mean ± std over seeds.", "",
        "| setting | method | test acc | macro-F1 | images/s |", "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        (a, sa), (f, sf) = r["test_acc"], r["test_macro_f1"]
        lines.append(f"| {r['setting']} | {r['method']} | {100 * a:.1f} ± {100 * sa:.1f} | "
                     f"{100 * f:.1f} ± {100 * sf:.1f} | {r['images_per_s']:.0f} |")
    lines += ["", f"Throughput on {args.settings[0]} (batch {args.batch_size}, {args.model}): "
              f"bare PyTorch loop {bare:.0f} images/s; engine, supervised (with weak "
              f"augmentation, EMA, validation, checkpoints) "
              f"{'-' if engine is None else f'{engine:.0f}'} images/s. Semi-supervised "
              "methods process (1 + unlabelled ratio) × batch images per step."]
    (args.out / "semisup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
