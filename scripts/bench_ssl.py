"""Benchmark: does self-supervised pre-training help a tiny quantized encoder with few labels?

For each pretext method (default SimCLR and rotation; `--methods` takes any pretext, e.g.
exemplar selflabel context infomax) and a randomly initialised encoder (BatchNorm
statistics calibrated on the data: the floor every pretext should beat): linear-probe and
cosine-kNN test accuracy of the frozen encoder, then supervised fine-tuning of the whole
network with the same few labels. Pre-training uses every training image, labels unused.

    .venv/bin/python scripts/bench_ssl.py                      # pbc64 at 32 px, CPU scale
    .venv/bin/python scripts/bench_ssl.py --data digits --image-size 16 --pretrain-steps 50
Results: results/ssl.json and results/ssl.md (appended section per configuration).

    .venv/bin/python scripts/bench_ssl.py --suite   # the issue-30 comparison (ssl_suite.py)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from tinyssl.config import load_config
from tinyssl.data import load_dataset, make_split
from tinyssl.data.stream import images_to_device
from tinyssl.models import ModelSpec, load_net
from tinyssl.pipeline import run_training
from tinyssl.pipeline.probe import probe_encoder, random_encoder
from tinyssl.train.pretext import pretrain_config

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def main() -> None:
    if "--suite" in sys.argv:  # every pretext × 4 sets × 2 seeds, resumable: ssl_suite.py
        from ssl_suite import main as suite

        return suite(sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=f"folder:{SHARED / 'pbc64.tgz'}")
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--model", default="tiny-w2a2")
    ap.add_argument("--width-mult", type=float, default=1.0)
    ap.add_argument("--methods", nargs="+", default=["simclr", "rotation"])
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--pretrain-batch", type=int, default=128)
    ap.add_argument("--labels-per-class", type=int, default=10)
    ap.add_argument("--finetune-steps", type=int, default=300, help="0: probes only")
    ap.add_argument("--finetune-optimizer", default="adam",
                    help="adam at 1e-2 beat the trainer's SGD default on 200-step runs")
    ap.add_argument("--finetune-lr", type=float, default=0.01)
    ap.add_argument("--flip", action="store_true", help="horizontal flips (not for digits)")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--runs", type=Path, default=Path("/tmp/tinyssl-bench-ssl"))
    ap.add_argument("--out", type=Path, default=REPO / "results" / "ssl")
    ap.add_argument("--note", default="", help="a line under the section heading, e.g. "
                    "'slice: one seed, short schedule'")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    shared = {"data": a.data, "image_size": a.image_size, "model": a.model,
              "width_mult": a.width_mult, "seed": a.seed, "device": a.device,
              "progress": False}
    bundle = load_dataset(a.data, image_size=a.image_size)
    split = make_split(bundle, bundle.num_classes, labels_per_class=a.labels_per_class,
                       val_per_class=0, seed=a.seed)
    rows = []
    for method in [None, *a.methods]:
        t0 = time.perf_counter()
        if method is None:
            h, _, c = bundle.image_shape
            encoder = random_encoder(ModelSpec(a.model, c, h, bundle.num_classes, a.width_mult),
                                     images_to_device(bundle.train.x, torch.device(a.device)),
                                     a.seed)
            init, pre_s = None, 0.0
        else:
            cfg = pretrain_config(None, {**shared, "method": method, "steps": a.pretrain_steps,
                                         "batch_size": a.pretrain_batch,
                                         "method_options": {"flip": a.flip},
                                         "eval_every": max(1, a.pretrain_steps // 5)})
            run = run_training(cfg, a.runs)
            encoder = load_net(run)[0].encoder
            init = str(run)
            pre_s = json.loads((run / "summary.json").read_text())["train_time_s"]
        probe = probe_encoder(encoder, bundle, split.labeled, a.k, a.device)
        ft = {"test_acc": None, "test_macro_f1": None}  # --finetune-steps 0: probes only
        if a.finetune_steps > 0:
            ft_cfg = load_config(None, {**shared, "method": "supervised", "init": init,
                                        "labels_per_class": a.labels_per_class,
                                        "steps": a.finetune_steps, "batch_size": 32,
                                        "optimizer": a.finetune_optimizer, "lr": a.finetune_lr,
                                        "eval_every": max(1, a.finetune_steps // 5),
                                        "method_options": {"flip": a.flip}})
            ft = json.loads((run_training(ft_cfg, a.runs) / "summary.json").read_text())
        rows.append({"encoder": method or "random init", "pretrain_s": round(pre_s, 1),
                     "linear_acc": probe["linear_acc"], "knn_acc": probe["knn_acc"],
                     "finetune_acc": ft["test_acc"], "finetune_macro_f1": ft["test_macro_f1"],
                     "wall_s": round(time.perf_counter() - t0, 1)})
        print(rows[-1], flush=True)

    setup = {k: v for k, v in vars(a).items() if k not in ("runs", "out")}
    setup.update(labels=len(split.labeled), test_images=len(bundle.test),
                 cpu=platform.processor() or platform.machine(),
                 torch_threads=torch.get_num_threads())
    a.out.parent.mkdir(parents=True, exist_ok=True)
    json_path = a.out.with_suffix(".json")
    history = json.loads(json_path.read_text()) if json_path.is_file() else []
    history.append({"setup": setup, "rows": rows})
    json_path.write_text(json.dumps(history, indent=2) + "\n")
    md = [f"### {Path(a.data.split(':', 1)[-1]).name} at {a.image_size} px, {a.model} "
          f"(width ×{a.width_mult}), {len(split.labeled)} labels "
          f"({a.labels_per_class}/class), seed {a.seed}", "",
          f"Pre-training {a.pretrain_steps} steps × {a.pretrain_batch} images (Adam 1e-2); "
          + (f"fine-tuning {a.finetune_steps} steps × 32 (supervised, all layers, "
             f"{a.finetune_optimizer} {a.finetune_lr:g})" if a.finetune_steps else
             "no fine-tuning") + f"; flips {'on' if a.flip else 'off'}; "
          f"kNN k={a.k}; "
          f"{setup['test_images']} test images; device {a.device}, "
          f"{setup['torch_threads']} thread(s).", "", *([a.note, ""] if a.note else []),
          "| encoder | pre-train time (s) | linear probe | kNN | fine-tuned acc | "
          "fine-tuned macro-F1 |", "|---|---|---|---|---|---|"]
    md += [f"| {r['encoder']} | {r['pretrain_s']:.0f} | {_pct(r['linear_acc'])} | "
           f"{_pct(r['knn_acc'])} | {_pct(r['finetune_acc'])} | "
           f"{_pct(r['finetune_macro_f1'])} |" for r in rows]
    md_path = a.out.with_suffix(".md")
    head = "" if md_path.is_file() else (
        "# Self-supervised pre-training benchmark\n\nWritten by scripts/bench_ssl.py; each "
        "section is one configuration, numbers as measured (one seed unless stated).\n\n")
    with open(md_path, "a") as f:
        f.write(head + "\n".join(md) + "\n\n")
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
