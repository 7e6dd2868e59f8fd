"""Benchmark: selected labels (`tinyssl select`'s rules) against random labels.

mnist5k (28 px), pbc64 blood cells and malaria cells (32 px) at 1, 2 and 4 labels per class
(total budget = classes × that), tiny-w2a2, 3 seeds. Two parts (part 2 predates TypiCover
and compares TypiClust):

1. Rules, cheap: every rule's class coverage, selection time and the 1-NN test accuracy of
   its labels on the selection features (SimCLR, 400 steps, float twin; trained once per data
   set and seed, then cached — the time is reported).
2. Training: the labels of `random` and `typiclust` each train tiny-w2a2 — supervised for
   1,000 steps on every setting and, where the budget allows, UDA (the best from-scratch
   semi-supervised method at a few labels per class in results/semisup.md) on mnist5k and
   pbc64 at 1 and 2 per class; supervised also with the budget spent in two rounds
   (TypiClust, then uncertainty). The runs are one `tinyssl sweep` over `selection` (and
   `selection_rounds`): the simulated labelling loop the product offers.
3. With `--fit`: uniform random, TypiClust and TypiCover labels through the teacher →
   student recipe (`tinyssl fit`, the best training method we have: FixMatch float teacher,
   distilled quantized student), instead of parts 1 and 2; `--fit-arms` adds TypiCover with
   the teacher picking half the budget (`typicover-rounds`).
With `--rules`: part 1 alone, cheap enough for more seeds.

    python scripts/bench_select.py [--seeds 0 1 2] [--workers 2] [--runs runs/bench-select]
    python scripts/bench_select.py --rules --seeds 0 1 2 3 4
    python scripts/bench_select.py --fit [--seeds 0 1] [--fit-cells pbc64-1 pbc64-2 ...]
        [--fit-arms uniform typicover typicover-rounds]
Writes results/select.{md,json} (--rules: select-rules.{md,json}; --fit: select-fit.{md,json}).
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_semisup import SETTINGS  # noqa: E402  (the same data settings and views)

REPO = Path(__file__).resolve().parents[1]
DATASETS = {"mnist5k": SETTINGS["mnist5k-4"], "pbc64": SETTINGS["pbc64-4"],
            "malaria": SETTINGS["malaria-10"]}
PER_CLASS = (1, 2, 4)
RULES = ("uniform", "typicover", "typiclust", "probcover", "kcenter")
UDA_CELLS = [("mnist5k", 1), ("mnist5k", 2), ("pbc64", 1), ("pbc64", 2)]
#: Supervised cells also run with the budget spent in two rounds (TypiClust, then the run's
#: own uncertainty halfway through training): `selection_rounds: 2`.
ROUNDS_CELLS = [("mnist5k", 2), ("mnist5k", 4), ("pbc64", 2), ("pbc64", 4)]
#: Training columns: (selection, rounds). "random" is the class-stratified draw every other
#: benchmark uses (k of each class: it needs the labels); "uniform" is what labelling
#: randomly drawn images gives a customer.
ARMS = (("random", 1), ("uniform", 1), ("typiclust", 1), ("typiclust", 2))
BASE = {"model": "tiny-w2a2", "steps": 1000, "batch_size": 32, "unlabeled_ratio": 3,
        "eval_every": 50, "val_per_class": 10, "progress": False, "device": "cpu",
        "selection_features": "simclr", "selection_steps": 400}


def features_job(job: tuple[str, int]) -> dict[str, Any]:
    """Train (or reuse) one data set's selection encoder for a seed, then time and score
    every rule at every budget on it. One process per job (one thread each)."""
    import torch

    from tinyssl.data.cache import tinyssl_home
    from tinyssl.data.splits import draw_validation
    from tinyssl.models import family_of
    from tinyssl.pipeline.probe import knn_accuracy
    from tinyssl.select import select
    from tinyssl.select.embed import run_features, simclr_encoder

    torch.set_num_threads(1)
    name, seed = job
    s = DATASETS[name]
    bundle = bundle_of(name)
    # the encoder a run with `selection: typiclust` trains (or finds cached) for these settings
    run = simclr_encoder(bundle, s["data"], s["image_size"], "squash",
                         f"{family_of(BASE['model'])}-float", BASE["selection_steps"], seed,
                         tinyssl_home() / "encoders", "cpu", False)
    start = time.perf_counter()
    features = run_features(run, bundle, torch.device("cpu"))[0]
    embed_s = time.perf_counter() - start
    encoder_s = json.loads((run / "summary.json").read_text())["train_time_s"]
    test_bundle = type(bundle)(bundle.name, bundle.classes, bundle.test, bundle.test)
    test_features = run_features(run, test_bundle, torch.device("cpu"))[0]
    val = draw_validation(bundle.train.y, bundle.classes, BASE["val_per_class"], seed)
    pool = np.setdiff1d(np.arange(len(bundle.train)), val)  # as selection_split does
    rows = []
    for k in PER_CLASS:
        for rule in RULES:
            t = time.perf_counter()
            picks = select(rule, features[pool], k * bundle.num_classes, seed=seed,
                           num_classes=bundle.num_classes)
            took = time.perf_counter() - t
            idx = pool[picks.index]
            y = bundle.train.y[idx]
            rows.append({"data": name, "seed": seed, "per_class": k, "rule": rule,
                         "select_s": took, "classes_covered": int(len(np.unique(y))),
                         "classes": bundle.num_classes,
                         "knn1_acc": knn_accuracy(features[idx], y, test_features,
                                                  bundle.test.y, k=1)})
    return {"data": name, "seed": seed, "encoder_s": encoder_s, "embed_s": embed_s,
            "rows": rows}


@functools.cache
def bundle_of(name: str) -> Any:
    """One data set of DATASETS, loaded once per process (the tables need its labels)."""
    from tinyssl.data import load_dataset

    s = DATASETS[name]
    return load_dataset(s["data"], image_size=s["image_size"])


def sweep_yaml(seeds: list[int], root: Path) -> Path:
    runs = []
    for name, s in DATASETS.items():
        views = {k: v for k, v in s.get("method_options", {}).items()
                 if k != "randaugment_policy"}
        for k in PER_CLASS:
            cell = {"data": s["data"], "image_size": s["image_size"], "labels_per_class": k,
                    "name": f"{name}-{k}.supervised"}
            sup = {**cell, "method": "supervised", "method_options": views}
            runs += [{**sup, "selection": sel} for sel in ("random", "typiclust", "uniform")]
            if (name, k) in ROUNDS_CELLS:
                runs.append({**sup, "selection": "typiclust", "selection_rounds": 2})
            if (name, k) in UDA_CELLS:
                uda = {**cell, "name": f"{name}-{k}.uda", "method": "uda",
                       "method_options": dict(s.get("method_options", {}))}
                runs += [{**uda, "selection": sel}
                         for sel in ("random", "typiclust", "uniform")]
    # `selection` last in each run and `seed` in the grid: a cell's directory name lists
    # its fields in this order, so reruns find the finished cells
    config = {"name": "bench-select", "base": BASE, "runs": runs, "grid": {"seed": seeds}}
    path = root / "sweep.yaml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def pct(values: list[float]) -> str:
    m, s = mean_std(values)
    return f"{100 * m:.1f} ± {100 * s:.1f}"


def pct_seeds(values: list[float]) -> str:
    """Mean ± std, then every seed's value in brackets."""
    return f"{pct(values)} ({', '.join(f'{100 * v:.1f}' for v in values)})"


def _pct_of(values: dict[tuple[str, int], list[float]], arm: tuple[str, int]) -> str:
    return pct(values[arm]) if arm in values else "–"


def _mean_of(values: dict[tuple[str, int], list[int]], arm: tuple[str, int]) -> str:
    return f"{statistics.mean(values[arm]):.1f}" if arm in values else "–"


def training_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    from tinyssl.data.types import Split

    out, lines = [], []
    for cell_name in dict.fromkeys(r["name"] for r in rows):
        data_name, rest = cell_name.split("-", 1)
        k, method = rest.split(".")
        by = {arm: [r for r in rows if r["name"] == cell_name and r["selection"] == arm[0]
                    and r.get("selection_rounds", 1) in (arm[1], None)] for arm in ARMS}
        by = {arm: rs for arm, rs in by.items() if rs}
        if ("typiclust", 1) not in by:
            continue
        y = bundle_of(data_name).train.y
        cover = {arm: [len(np.unique(y[Split.load(
            Path(r["run"]) / "split.npz").labeled])) for r in rs] for arm, rs in by.items()}
        acc = {arm: [r["test_acc"] for r in rs] for arm, rs in by.items()}
        mean = {arm: statistics.mean(v) for arm, v in acc.items()}
        typi = ("typiclust", 1)
        gain = {base: mean[typi] - mean[(base, 1)] for base in ("random", "uniform")
                if (base, 1) in mean}
        out.append({"data": data_name, "per_class": int(k), "method": method,
                    "labels": by[typi][0]["labels"], "gain": gain,
                    "acc": {f"{a}x{r}": v for (a, r), v in acc.items()},
                    "coverage": {f"{a}x{r}": v for (a, r), v in cover.items()}})

        gains = [f"{100 * gain[b]:+.1f}" if b in gain else "–" for b in ("uniform", "random")]
        lines.append("| " + " | ".join([
            data_name, k, method, str(by[typi][0]["labels"]), _pct_of(acc, ("random", 1)),
            _pct_of(acc, ("uniform", 1)), f"**{_pct_of(acc, typi)}**", *gains,
            _pct_of(acc, ("typiclust", 2)), _mean_of(cover, ("uniform", 1)),
            _mean_of(cover, typi)]) + " |")
    return lines, out


def markdown(features: list[dict[str, Any]], table: list[str], trained: list[dict[str, Any]],
             command: str) -> str:
    lines = [
        "# Label selection benchmark (`tinyssl select`)", "",
        f"`{command}` on CPU (2 cores). tinyssl's selection encoder: SimCLR, "
        f"{BASE['selection_steps']} steps, on the student family's float twin (tiny-float), "
        "trained once per data set and seed and cached. Every training run is tiny-w2a2, "
        f"{BASE['steps']} steps, labelled batch {BASE['batch_size']}, "
        f"{BASE['val_per_class']} validation images per class (drawn before the selection; "
        "their labels are the simulated oracle's). Test accuracy in %, mean ± std over seeds.",
        "", "## Training on random vs selected (TypiClust) labels", "",
        "| data | labels/class | method | labels | stratified random | uniform random | "
        "TypiClust | gain vs uniform | gain vs stratified | TypiClust + uncertainty, 2 rounds "
        "| classes covered, uniform | classes covered, TypiClust |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", *table, "",
        "Stratified random is the draw every other benchmark uses (the same number of labels "
        "in every class: it needs the labels the customer does not have yet); uniform random "
        "is labelling images drawn at random, what a customer gets without a selection.",
        "Two rounds: half the budget by TypiClust before training, the other half by the "
        "run's own uncertainty (margin, one pick per k-means cluster of the 10× least "
        "certain) after half the steps; same total labels. Classes covered: how many classes "
        "the first-round labels include (of all classes).", "",
        *rules_table(features)]
    return "\n".join(lines) + "\n"


def rules_table(features: list[dict[str, Any]]) -> list[str]:
    """Every rule at every budget: coverage, 1-NN accuracy on the features, time (markdown)."""
    rule_rows = [r for f in features for r in f["rows"]]
    lines = ["## Every rule: class coverage, 1-NN accuracy on the features, selection time", "",
             "| data | labels/class | rule | classes covered | seeds covering every class "
             "| 1-NN test acc | selection s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in DATASETS:
        for k in PER_CLASS:
            for rule in RULES:
                rs = [r for r in rule_rows if (r["data"], r["per_class"], r["rule"]) ==
                      (name, k, rule)]
                if rs:
                    every = sum(r["classes_covered"] == r["classes"] for r in rs)
                    lines.append(
                        f"| {name} | {k} | {rule} | "
                        f"{statistics.mean(r['classes_covered'] for r in rs):.1f} of "
                        f"{rs[0]['classes']} | {every} of {len(rs)} | "
                        f"{pct([r['knn1_acc'] for r in rs])} | "
                        f"{statistics.mean(r['select_s'] for r in rs):.2f} |")
    return lines + [
        "", "Selection features, per data set and seed (one thread): SimCLR training time, "
        "then embedding every training image — " + ", ".join(
            f"{f['data']} s{f['seed']} {f['encoder_s']:.0f} s + {f['embed_s']:.1f} s"
            for f in features) + ". A cached encoder costs only the embedding."]


def all_features(args: argparse.Namespace) -> list[dict[str, Any]]:
    """features_job for every data set and seed, `--workers` at a time."""
    jobs = [(name, seed) for name in DATASETS for seed in args.seeds]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        return pool.map(features_job, jobs)


def command_line() -> str:
    """How this benchmark was called, for the results file."""
    return " ".join(["python scripts/bench_select.py", *sys.argv[1:]])


def rules_part(args: argparse.Namespace) -> None:
    """Part 1 alone (no training): every rule's picks, scored by proxy, over many seeds."""
    features = all_features(args)
    (args.out / "select-rules.json").write_text(json.dumps(features, indent=2, default=float))
    (args.out / "select-rules.md").write_text("\n".join([
        "# Label selection rules by proxy (no training)", "",
        f"`{command_line()}` on CPU. Picks of every rule on the {BASE['selection_steps']}-step "
        "SimCLR selection features (as in results/select.md), scored by how many classes they "
        "cover and by the 1-NN test accuracy of their labels on those features. Mean ± std "
        "over seeds.", "", *rules_table(features)]) + "\n")
    print((args.out / "select-rules.md").read_text())


#: --fit: student steps and teacher scale (bench_fit's recipe at the supervised part's 1,000
#: steps), and the arms compared: uniform random against each rule, and TypiCover with the
#: second half of the budget picked by the teacher's uncertainty halfway through its training
#: (arm name → selection rule, labelling rounds).
FIT = {"steps": 1000, "teacher_scale": 1.5, "student_lr": 0.1, "batch_size": 32,
       "auto": False}  # a fixed recipe: the arms differ only in their labels
FIT_ARMS = {"uniform": ("uniform", 1), "typiclust": ("typiclust", 1),
            "typicover": ("typicover", 1), "typicover-rounds": ("typicover", 2)}
ARM_NAMES = {"uniform": "uniform random", "typiclust": "TypiClust", "typicover": "TypiCover",
             "typicover-rounds": "TypiCover + teacher's uncertainty"}
FIT_CELLS = tuple(f"{name}-{k}" for name in DATASETS for k in PER_CLASS)


def fit_jobs(cells: list[str], arms: list[str], seeds: list[int], root: Path
             ) -> list[tuple[Any, ...]]:
    jobs = []
    for cell in cells:
        name, k = cell.rsplit("-", 1)
        s = DATASETS[name]
        for arm in arms:
            rule, rounds = FIT_ARMS[arm]
            for seed in seeds:
                options = {"data": s["data"], "image_size": s["image_size"],
                           "labels_per_class": int(k), "selection": rule,
                           "selection_rounds": rounds,
                           "method_options": s.get("method_options", {}),
                           "model": BASE["model"], "baseline": False,
                           "float_init_ablation": False, "hardware": False,
                           "progress": False, "device": "cpu", "seed": seed, **FIT}
                jobs.append((f"{cell}.{arm}", seed, options, str(root), 1))
    return jobs


def paired_gain(r: dict[str, Any], arm: str) -> float:
    """The arm's student accuracy minus uniform random's, averaged over the seeds both ran
    (a seed fixes the validation images and the selection encoder)."""
    mine = dict(zip(r[f"{arm}.seeds"], r[f"{arm}.student"], strict=True))
    uniform = dict(zip(r["uniform.seeds"], r["uniform.student"], strict=True))
    return statistics.mean(mine[s] - uniform[s] for s in sorted(mine.keys() & uniform.keys()))


def _cell_row(cell: str, r: dict[str, Any], arms: list[str], gains: dict[str, dict[str, float]]
              ) -> tuple[str, str]:
    """The cell's student row (with each rule's gain over uniform random) and teacher row;
    "–" where an arm was not run on this cell."""
    def acc(arm: str, stage: str) -> str:
        return pct_seeds(r[f"{arm}.{stage}"]) if f"{arm}.{stage}" in r else "–"

    cover = " / ".join(f"{statistics.mean(r[f'{arm}.covered']):.1f}"
                       if f"{arm}.covered" in r else "–" for arm in arms)
    student = (f"| {cell} | {r['labels']} | " + " | ".join(acc(a, "student") for a in arms)
               + " | " + " | ".join(f"{100 * gains[a][cell]:+.1f}" if cell in gains[a] else "–"
                                    for a in arms[1:]) + f" | {cover} |")
    return student, f"| {cell} | " + " | ".join(acc(a, "teacher") for a in arms) + " |"


def fit_markdown(results: dict[str, dict[str, Any]], command: str) -> str:
    arms = ["uniform", *(a for a in FIT_ARMS if a != "uniform"
                         and any(f"{a}.student" in r for r in results.values()))]
    head = " | ".join(ARM_NAMES[a] for a in arms)
    lines = ["# Label selection through the teacher → student recipe (`tinyssl fit`)", "",
             f"`{command}` on CPU (2 workers × 1 thread); the tables hold every finished fit "
             "under its --runs directory, those of earlier calls with other seeds or arms "
             "included (`scripts/bench_all.py` lists the calls). Each fit: the labels "
             "picked by the arm (uniform random, or a rule on the 400-step SimCLR selection "
             "encoder of results/select.md), a float FixMatch teacher (tiny-float, "
             f"{FIT['teacher_scale']}× the student's steps), a tiny-w2a2 student initialised "
             f"from it and distilled for {FIT['steps']} steps (lr {FIT['student_lr']}). "
             + (f"{ARM_NAMES['typicover-rounds']}: TypiCover picks half the budget, the "
                "teacher the other half halfway through its training (lowest margin, one per "
                "k-means cluster of its features); the student trains on all of them. "
                if "typicover-rounds" in arms else "")
             + "Test accuracy in %, mean ± std over seeds (per seed in brackets); a gain "
             "is over the seeds both arms ran; classes covered counts every label of the "
             "arm.", "",
             "## Students (tiny-w2a2)", "",
             f"| cell | labels | {head} | "
             + " | ".join(f"{ARM_NAMES[a]} gain" for a in arms[1:])
             + f" | classes covered, {' / '.join(ARM_NAMES[a] for a in arms)} |",
             "| --- " * (2 + 2 * len(arms)) + "|"]
    teachers = ["", "## Teachers (tiny-float, FixMatch)", "", f"| cell | {head} |",
                "| --- " * (1 + len(arms)) + "|"]
    cells = [c for c in FIT_CELLS if "uniform.student" in results.get(c, {})]
    gains = {arm: {c: paired_gain(results[c], arm) for c in cells
                   if f"{arm}.student" in results[c]} for arm in arms[1:]}
    for cell in cells:
        student, teacher = _cell_row(cell, results[cell], arms, gains)
        lines.append(student)
        teachers.append(teacher)
    lines += teachers + [""]
    for arm in arms[1:]:
        for name in ("mnist5k", "pbc64"):
            if few := [gains[arm][c] for c in (f"{name}-1", f"{name}-2") if c in gains[arm]]:
                lines.append(f"- {ARM_NAMES[arm]}, {name} at 1 and 2 labels per class: "
                             f"students beat uniform random labels' by "
                             f"{100 * statistics.mean(few):+.1f} points on average.")
        if gains[arm]:
            worst = min(gains[arm], key=gains[arm].get)
            lines.append(f"- {ARM_NAMES[arm]}, worst cell: {worst}, "
                         f"{100 * gains[arm][worst]:+.1f} points.")
    return "\n".join(lines) + "\n"


def finished_fits(root: Path) -> dict[str, dict[str, Any]]:
    """cell → {labels, ARM.STAGE: accuracies, ARM.covered: classes}, from every finished fit
    under `root` (named CELL.ARM-sSEED), in seed order: a later call that adds seeds or arms
    extends the tables instead of replacing them."""
    from tinyssl.data.labels_file import read_labels_file
    from tinyssl.data.types import Split
    from tinyssl.select.rounds import ROUNDS_LABELS_FILE

    found = []
    for path in root.glob("*.*-s*/fit.json"):
        name, seed = path.parent.name.rsplit("-s", 1)
        cell, arm = name.split(".")
        if cell in FIT_CELLS and arm in FIT_ARMS:
            found.append((cell, arm, int(seed), path.parent))
    results: dict[str, dict[str, Any]] = {}
    for cell, arm, seed, fit_dir in sorted(found):
        data_name, k = cell.rsplit("-", 1)
        bundle = bundle_of(data_name)
        report = json.loads((fit_dir / "fit.json").read_text())
        r = results.setdefault(cell, {"labels": int(k) * bundle.num_classes})
        r.setdefault(f"{arm}.seeds", []).append(seed)
        for stage in report["stages"]:
            r.setdefault(f"{arm}.{stage['stage']}", []).append(stage["test_acc"])
        every = fit_dir / "teacher" / ROUNDS_LABELS_FILE  # labelling rounds: all of them
        picked = (read_labels_file(every, bundle)[0] if every.is_file()
                  else Split.load(fit_dir / "teacher" / "split.npz").labeled)
        r.setdefault(f"{arm}.covered", []).append(len(np.unique(bundle.train.y[picked])))
    return results


def fit_part(args: argparse.Namespace) -> None:
    from bench_fit import run_one

    jobs = fit_jobs(args.fit_cells, args.fit_arms, args.seeds, args.runs)
    with mp.get_context("spawn").Pool(args.workers) as pool:
        pool.map(run_one, jobs, chunksize=1)
    results = finished_fits(args.runs)
    (args.out / "select-fit.json").write_text(json.dumps(
        {"fit": FIT, "arms": FIT_ARMS, "results": results}, indent=2))
    (args.out / "select-fit.md").write_text(fit_markdown(results, command_line()))
    print((args.out / "select-fit.md").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "bench-select")
    ap.add_argument("--out", type=Path, default=REPO / "results")
    ap.add_argument("--fit", action="store_true",
                    help="part 3 only: uniform vs selected labels through `tinyssl fit`")
    ap.add_argument("--rules", action="store_true",
                    help="part 1 only (no training): every rule by proxy → select-rules.md")
    ap.add_argument("--fit-cells", nargs="+", default=list(FIT_CELLS),
                    help="DATA-K cells for --fit (K labels per class)")
    ap.add_argument("--fit-arms", nargs="+", default=["uniform", "typiclust", "typicover"],
                    help=f"arms for --fit, of {', '.join(FIT_ARMS)} (uniform is the baseline)")
    args = ap.parse_args()
    if unknown := sorted(set(args.fit_cells) - set(FIT_CELLS)):
        ap.error(f"unknown --fit-cells {', '.join(unknown)}; known: {', '.join(FIT_CELLS)}")
    if unknown := sorted(set(args.fit_arms) - set(FIT_ARMS)):
        ap.error(f"unknown --fit-arms {', '.join(unknown)}; known: {', '.join(FIT_ARMS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.rules:
        return rules_part(args)
    if args.fit:
        if args.runs == REPO / "runs" / "bench-select":
            args.runs = REPO / "runs" / "bench-select-fit"
        return fit_part(args)
    from tinyssl.pipeline.sweep import collect_rows, run_sweep_workers

    features = all_features(args)
    config = sweep_yaml(args.seeds, args.runs)
    run_sweep_workers(config, args.runs, workers=args.workers)
    rows = collect_rows(config, args.runs)
    table, trained = training_table(rows)
    (args.out / "select.json").write_text(json.dumps(
        {"features": features, "training": trained, "base": BASE}, indent=2, default=float))
    (args.out / "select.md").write_text(markdown(features, table, trained, command_line()))
    print((args.out / "select.md").read_text())


if __name__ == "__main__":
    main()
