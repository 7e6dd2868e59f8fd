"""Would `tinyssl fit`'s teacher gain from a shorter or longer schedule? A development
benchmark for fit's next recipe (issue 24), scored on validation images only.

The fit suite showed the float teacher as the bottleneck (0.6–6.5 points above supervised
outside mnist5k), and fit's teacher-length rule halves the teacher on the strength of a
300-step fold trial. This measures the schedule directly: for each finished fit directory,
its teacher as it ran (N steps), and the same teacher config retrained at each SCALE × N
steps (nothing else changed, same seed). Each is scored on DEV images of the fit's
*unlabelled training pool*, with their labels: images the fit saw without labels, never the
test split, so a recipe chosen from this table has not looked at test labels. (A
development score, not a customer's: a customer has no such labels, which is why fit must
make the choice itself and this only decides its default.)

    python scripts/bench_teacher_length.py FIT_DIR [FIT_DIR ...] --scales 0.5 3

One result file per fit directory (results/teacher-length/NAME.json, resumable: a finished
one is not rerun; a retrained teacher's run directory resumes too), and the table
results/teacher-length.md / .json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

DEV_IMAGES = 2000


def dev_images(fit_dir: Path, limit: int) -> tuple[Any, np.ndarray]:
    """(the fit's data bundle, indices of up to `limit` images of its unlabelled pool)."""
    import yaml

    from tinyssl.data import load_dataset

    cfg = yaml.safe_load((fit_dir / "teacher" / "config.yaml").read_text())
    bundle = load_dataset(cfg["data"], image_size=cfg["image_size"],
                          resize=cfg.get("resize", "squash"))
    pool = np.load(fit_dir / "teacher" / "split.npz")["unlabeled"]
    rng = np.random.default_rng(0)
    return bundle, np.sort(rng.choice(pool, min(limit, len(pool)), replace=False))


def dev_accuracy(run: Path, bundle: Any, idx: np.ndarray) -> float:
    import torch

    from tinyssl.data.stream import images_to_device
    from tinyssl.models import load_net
    from tinyssl.train.evaluate import predict_probs

    net, _ = load_net(run)
    x = images_to_device(bundle.train.x[idx], torch.device("cpu"))
    pred = predict_probs(net, x).argmax(1).numpy()
    return float((pred == bundle.train.y[idx]).mean())


def retrain(fit_dir: Path, scale: float, runs: Path) -> Path:
    """The fit's teacher config at `scale` × its steps (a resumable run directory)."""
    from tinyssl.config import load_config
    from tinyssl.pipeline import run_training

    base = load_config(fit_dir / "teacher" / "config.yaml", {})
    steps = max(1, round(scale * base.steps))
    name = f"{fit_dir.name}-teacher-x{scale:g}"
    cfg = load_config(fit_dir / "teacher" / "config.yaml",
                      {"steps": steps, "name": name, "progress": False, "log": "none",
                       "eval_every": max(1, steps // 10)})
    earlier = sorted(runs.glob(f"{name}-*"))  # run directories carry a time stamp
    for run in earlier:
        if (run / "summary.json").is_file():
            return run
    for run in earlier:
        if (run / "checkpoints" / "last.pt").is_file():  # interrupted: continue it
            return run_training(None, runs, resume=run)
    return run_training(cfg, runs)


def measure(fit_dir: Path, scales: list[float], runs: Path, limit: int) -> dict[str, Any]:
    from tinyssl.runs import read_json

    bundle, idx = dev_images(fit_dir, limit)
    base = read_json(fit_dir / "teacher" / "summary.json")
    rows = [{"scale": 1.0, "steps": base["steps"], "train_s": base["train_time_s"],
             "dev_acc": dev_accuracy(fit_dir / "teacher", bundle, idx)}]
    for scale in scales:
        started = time.perf_counter()
        run = retrain(fit_dir, scale, runs)
        s = read_json(run / "summary.json")
        rows.append({"scale": scale, "steps": s["steps"], "train_s": s["train_time_s"],
                     "dev_acc": dev_accuracy(run, bundle, idx),
                     "wall_s": time.perf_counter() - started})
    return {"fit": fit_dir.name, "dev_images": len(idx), "teacher_method": base.get("method"),
            "rows": sorted(rows, key=lambda r: r["scale"])}


def report(results: list[dict[str, Any]], out: Path) -> None:
    lines = ["# fit's teacher at other schedule lengths (development score, no test labels)",
             "", "`scripts/bench_teacher_length.py`. Each fit suite cell's float teacher as it "
             "ran (× 1) and retrained with the same config at other step counts (same seed). "
             "Accuracy % on up to 2,000 images of the fit's unlabelled training pool (their "
             "labels are a development score: never the test split).", "",
             "| fit | teacher | × steps | steps | train s | pool accuracy |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        for row in r["rows"]:
            lines.append(f"| {r['fit']} | {r['teacher_method']} | {row['scale']:g} | "
                         f"{row['steps']} | {row['train_s']:.0f} | "
                         f"{100 * row['dev_acc']:.1f} |")
    (out / "teacher-length.md").write_text("\n".join(lines) + "\n")
    (out / "teacher-length.json").write_text(json.dumps(results, indent=2))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fit_dirs", nargs="*", type=Path)
    ap.add_argument("--scales", nargs="+", type=float, default=[0.5, 3.0])
    ap.add_argument("--runs", type=Path, default=Path("runs/teacher-length"))
    ap.add_argument("--out", type=Path, default=Path("results"))
    ap.add_argument("--dev-images", type=int, default=DEV_IMAGES)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    cells = args.out / "teacher-length"
    cells.mkdir(parents=True, exist_ok=True)
    for fit_dir in args.fit_dirs:
        path = cells / f"{fit_dir.name}.json"
        if not path.is_file():
            r = measure(fit_dir, args.scales, args.runs, args.dev_images)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(r, indent=2))
            tmp.replace(path)
            print(r["fit"], [(row["scale"], round(100 * row["dev_acc"], 1)) for row in r["rows"]],
                  flush=True)
    report([json.loads(p.read_text()) for p in sorted(cells.glob("*.json"))], args.out)


if __name__ == "__main__":
    main()
