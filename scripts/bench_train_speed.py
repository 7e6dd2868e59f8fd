"""Benchmark: where a training step's time goes, and training images/s before and after the
fast fake-quant path (issue 25), on CPU.

Three parts, all on mnist5k (28×28 digits) from ../shared/data:
1. profile (torch.profiler): one step split into batch draw, augmentation, teacher forward,
   student forward, loss, backward, optimizer, EMA, plus BatchNorm re-estimation and
   validation, for tiny/small/cnv at w1a1, w2a2 and float × supervised/fixmatch/distill ×
   1 and 2 threads, on the fast path (and on Brevitas for w2a2);
2. throughput: img/s of the real trainer (`run_training`, its own `images_per_s`) with
   `fast_quant` off (before) and on (after), and of a bare PyTorch loop over the same method
   and model (draw, method step, backward, SGD; no EMA, schedule, logging or NaN check).
   All arms interleaved, `--rounds` times; medians. Ratios: to the float twin (same method,
   path and runner) and engine / bare loop;
3. accuracy: a short supervised and FixMatch mnist5k run with the fast path off and on
   (same seeds): test accuracy and whether the final weights are bit-identical.

    .venv/bin/python scripts/bench_train_speed.py [--rounds 3] [--steps 8]
Results: results/train_speed.json and results/train_speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile, record_function

from tinyssl.config import load_config
from tinyssl.data import load_dataset
from tinyssl.data.stream import BatchStream, images_to_device
from tinyssl.methods import Batch, get_method
from tinyssl.models import build_model
from tinyssl.models.fast_quant import train_fast
from tinyssl.pipeline import run_training
from tinyssl.runs import atomic_write_bytes, environment, load_checkpoint
from tinyssl.train.ema import EMA
from tinyssl.train.evaluate import accuracy, recalibrate_bn

REPO = Path(__file__).resolve().parents[1]
MNIST5K = f"npz:{REPO.parent / 'shared' / 'data' / 'mnist5k.npz'}"
FAMILIES = {"tiny": 1.0, "small": 1.0, "cnv": 0.5}  # cnv at half width on this CPU
METHODS = ("supervised", "fixmatch", "distill")
PHASES = ("batch", "augment", "teacher", "forward", "backward", "optimizer", "ema")


def base_cfg(args: argparse.Namespace) -> dict[str, Any]:
    return {"data": args.data, "labels_per_class": 10, "batch_size": args.batch_size,
            "unlabeled_ratio": args.unlabeled_ratio, "progress": False, "device": "cpu",
            "ema": 0.999, "checkpoint_every_s": 1e9}


def teachers(args: argparse.Namespace, root: Path) -> dict[str, Path]:
    """A float-twin teacher run per family (a few steps: only its cost matters here)."""
    out = {}
    for family, width in FAMILIES.items():
        cfg = load_config(None, {**base_cfg(args), "model": f"{family}-float",
                                 "width_mult": width, "steps": 3, "eval_every": 3})
        out[family] = run_training(cfg, root / "teachers")
    return out


def method_options(method: str, teacher: Path) -> dict[str, Any]:
    return {"teacher": str(teacher)} if method == "distill" else {}


class Harness:
    """The method, model, optimizer, EMA and batch streams of one arm, outside the trainer:
    the bare loop and the profiled step."""

    def __init__(self, args: argparse.Namespace, bundle: Any, model: str, width: float,
                 method: str, teacher: Path, fast: bool) -> None:
        torch.manual_seed(0)
        self.net = build_model(model, 1, 28, 10, width)
        train_fast(self.net, fast)
        self.method = get_method(method)(self.net, 10, **method_options(method, teacher))
        self.pool = images_to_device(bundle.train.x, torch.device("cpu"))
        n = len(self.pool)
        self.method.bind_pool(n)
        cpu = torch.device("cpu")
        self.labeled = BatchStream(np.arange(n), bundle.train.y, args.batch_size, 0, cpu)
        self.unlabeled = BatchStream(np.arange(n), None,
                                     round(args.batch_size * args.unlabeled_ratio), 1, cpu)
        self.opt = torch.optim.SGD(self.method.parameters(), lr=0.03, momentum=0.9,
                                   nesterov=True, weight_decay=5e-4)
        self.ema = EMA(self.net, 0.999)
        self.method.train()
        self.images = 0
        self.teacher = getattr(self.method, "teacher_net", None)

    def draw(self) -> tuple[Batch, Batch | None]:
        d = self.labeled.next()
        lb = Batch(self.pool[d.index], d.y, d.index)
        ub = None
        if self.method.uses_unlabeled:
            u = self.unlabeled.next()
            ub = Batch(self.pool[u.index], None, u.index)
        self.images += len(lb.x) + (len(ub.x) if ub is not None else 0)
        return lb, ub

    def step(self, with_ema: bool) -> None:
        with record_function("batch"):
            lb, ub = self.draw()
        out = self.method(lb, ub, 0.5)
        with record_function("backward"):
            self.opt.zero_grad(set_to_none=True)
            out.loss.backward()
        with record_function("optimizer"):
            self.opt.step()
        if with_ema:
            with record_function("ema"):
                self.ema.update(self.net, 100)

    def instrument(self) -> None:
        """record_function ranges around augmentation, the student's and the teacher's forward."""
        def ranged(name: str, fn: Any) -> Any:
            def call(*a: Any, **k: Any) -> Any:
                with record_function(name):
                    return fn(*a, **k)
            return call

        for name in ("weak", "strong") if hasattr(self.method, "strong") else ("weak",):
            setattr(self.method, name, ranged("augment", getattr(self.method, name)))
        self.net.forward = ranged("forward", self.net.forward)
        if self.teacher is not None:
            self.teacher.forward = ranged("teacher", self.teacher.forward)


def profile_arm(args: argparse.Namespace, bundle: Any, model: str, width: float, method: str,
                teacher: Path, fast: bool, threads: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    h = Harness(args, bundle, model, width, method, teacher, fast)
    h.instrument()
    h.step(True)  # warm-up
    steps = 2
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            h.step(True)
    wall = (time.perf_counter() - start) / steps
    ranges = {e.key: e.cpu_time_total / 1e3 / steps for e in prof.key_averages()
              if e.key in PHASES}
    ops = sorted((e for e in prof.key_averages() if e.key.startswith("aten::")
                  or e.key.endswith("Fn")), key=lambda e: -e.self_cpu_time_total)[:6]
    # teacher and augmentation run inside the student's training_step, not inside "forward"
    phases = {p: round(ranges.get(p, 0.0), 2) for p in PHASES}
    phases["loss_other"] = round(max(0.0, wall * 1e3 - sum(phases.values())), 2)
    bn = h.pool[:1024]
    t = time.perf_counter()
    recalibrate_bn(h.ema.module, bn)
    accuracy(h.ema.module, h.pool[:100], torch.as_tensor(bundle.train.y[:100]))
    validation_ms = (time.perf_counter() - t) * 1e3
    return {"model": model, "method": method, "fast": fast, "threads": threads,
            "step_ms": round(wall * 1e3, 2), "phases_ms": phases,
            "top_ops_ms": {e.key: round(e.self_cpu_time_total / 1e3 / steps, 2) for e in ops},
            "validation_ms": round(validation_ms, 1),
            "validation_share_at_eval_every_100": round(validation_ms / (validation_ms +
                                                                          100 * wall * 1e3), 3)}


def bare_ips(args: argparse.Namespace, bundle: Any, model: str, width: float, method: str,
             teacher: Path, fast: bool) -> tuple[float, float]:
    """(images per wall second, images per CPU second) of the bare loop."""
    h = Harness(args, bundle, model, width, method, teacher, fast)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        h.step(False)
    return (h.images / (time.perf_counter() - start), h.images / (time.process_time() - cpu))


def engine_ips(args: argparse.Namespace, root: Path, model: str, width: float, method: str,
               teacher: Path, fast: bool) -> tuple[float, float]:
    """(images per wall second, images per CPU second) of the trainer's steps."""
    cfg = load_config(None, {**base_cfg(args), "model": model, "width_mult": width,
                             "method": method, "method_options": method_options(method, teacher),
                             "steps": args.steps, "eval_every": args.steps, "fast_quant": fast,
                             "lr": 0.03})
    run = run_training(cfg, root / "engine")
    s = json.loads((run / "summary.json").read_text())
    return s["images_per_s"], s["images_per_s"] * s["train_time_s"] / s["train_cpu_s"]


def throughput(args: argparse.Namespace, bundle: Any, root: Path,
               tdirs: dict[str, Path]) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    arms = [(f, w, kind, m, fast, runner)
            for f, w in FAMILIES.items() for kind in ("w2a2", "float") for m in METHODS
            for fast in (False, True) for runner in ("engine", "bare")
            if runner == "engine" or fast]
    samples: dict[tuple, list[tuple[float, float]]] = {a: [] for a in arms}
    for r in range(args.rounds):
        for arm in arms:
            f, w, kind, m, fast, runner = arm
            model = f"{f}-{kind}"
            fn = engine_ips if runner == "engine" else bare_ips
            samples[arm].append(fn(args, root if runner == "engine" else bundle, model, w, m,
                                   tdirs[f], fast))
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    rows = []
    for arm, values in samples.items():
        f, w, kind, m, fast, runner = arm
        wall, cpu = zip(*values, strict=True)
        rows.append({"family": f, "width_mult": w, "model": f"{f}-{kind}", "method": m,
                     "path": "fast" if fast else "brevitas", "runner": runner,
                     "img_cpu_s": round(statistics.median(cpu), 1),
                     "img_s": round(statistics.median(wall), 1),
                     "samples_cpu": [round(v, 1) for v in cpu],
                     "samples": [round(v, 1) for v in wall]})
    return rows


def accuracy_check(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    rows = []
    for method, steps in (("supervised", 100), ("fixmatch", 40)):
        for seed in range(args.seeds):
            result = {}
            for fast in (False, True):
                cfg = load_config(None, {**base_cfg(args), "model": "tiny-w2a2",
                                         "method": method, "steps": steps, "eval_every": 50,
                                         "seed": seed, "fast_quant": fast})
                run = run_training(cfg, root / "acc")
                s = json.loads((run / "summary.json").read_text())
                ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
                result[fast] = (s, ckpt["model"])
            (sb, wb), (sf, wf) = result[False], result[True]
            rows.append({"method": method, "model": "tiny-w2a2", "steps": steps, "seed": seed,
                         "test_acc_brevitas": sb["test_acc"], "test_acc_fast": sf["test_acc"],
                         "img_s_brevitas": round(sb["images_per_s"], 1),
                         "img_s_fast": round(sf["images_per_s"], 1),
                         "weights_identical": all(torch.equal(wb[k], wf[k]) for k in wb)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8, help="Steps per throughput sample.")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--unlabeled-ratio", type=float, default=1.0)
    ap.add_argument("--parts", default="profile,throughput,accuracy")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--profile-threads", default="1,2")
    ap.add_argument("--profile-models", default="w1a1,w2a2,float")
    ap.add_argument("--seeds", type=int, default=2, help="Seeds of the accuracy check.")
    ap.add_argument("--data", default=MNIST5K, help="mnist5k as npz:PATH.")
    ap.add_argument("--out", type=Path, default=REPO / "results" / "train_speed.json")
    ap.add_argument("--report-only", action="store_true",
                    help="Rewrite the .md from the .json, measuring nothing.")
    args = ap.parse_args()
    if args.report_only:
        out = json.loads(args.out.read_text())
        atomic_write_bytes(args.out.with_suffix(".md"), report(out).encode())
        return
    parts = set(args.parts.split(","))
    for f in set(FAMILIES) - set(args.families.split(",")):
        del FAMILIES[f]
    out: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    out.update(environment=environment(), load_average_start=os.getloadavg(),
               settings={k: v for k, v in vars(args).items() if k != "out"} | {
                   "data": "mnist5k", "families": FAMILIES})
    bundle = load_dataset(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tdirs = teachers(args, root)
        if "profile" in parts:
            kinds = args.profile_models.split(",")
            out["profile"] = [
                profile_arm(args, bundle, f"{f}-{kind}", w, m, tdirs[f], fast, threads)
                for threads in map(int, args.profile_threads.split(","))
                for f, w in FAMILIES.items() for kind in kinds for m in METHODS
                for fast in ((True, False) if kind == "w2a2" and threads == 1 else (True,))]
            print("profile done", flush=True)
        if "throughput" in parts:
            out["throughput"] = throughput(args, bundle, root, tdirs)
        if "accuracy" in parts:
            out["accuracy"] = accuracy_check(args, root)
    out["load_average_end"] = os.getloadavg()
    atomic_write_bytes(args.out, json.dumps(out, indent=1).encode())
    atomic_write_bytes(args.out.with_suffix(".md"), report(out).encode())


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _throughput_table(rows: list[dict[str, Any]], key: str) -> list[str]:
    ips = {(r["model"], r["method"], r["path"], r["runner"]): r[key] for r in rows}
    lines = ["| model | method | engine, Brevitas (before) | engine, fast (after) | speed-up | "
             "bare loop, fast | engine / bare | ÷ float twin, before | ÷ float twin, after |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["runner"] != "engine" or r["path"] != "fast":
            continue
        m, meth = r["model"], r["method"]
        twin = f"{r['family']}-float"
        before, after = ips.get((m, meth, "brevitas", "engine")), r[key]
        bare = ips.get((m, meth, "fast", "bare"))
        lines.append(
            f"| {m} | {meth} | {_num(before)} | {_num(after)} | {_ratio(after, before)} | "
            f"{_num(bare)} | {_ratio(after, bare)} | "
            f"{_ratio(before, ips.get((twin, meth, 'brevitas', 'engine')))} | "
            f"{_ratio(after, ips.get((twin, meth, 'fast', 'engine')))} |")
    return lines


def _profile_table(rows: list[dict[str, Any]]) -> list[str]:
    names = (*PHASES, "loss_other")
    lines = ["| threads | model | method | path | step ms | " + " | ".join(names) +
             " | validation ms (share at eval_every 100) | top operators (ms/step) |",
             "|---|---|---|---|---:|" + "---:|" * len(names) + "---:|---|"]
    for r in rows:
        total = sum(r["phases_ms"].values()) or 1.0
        shares = " | ".join(f"{100 * r['phases_ms'][n] / total:.0f} %" for n in names)
        share = 100 * r["validation_share_at_eval_every_100"]
        ops = ", ".join(f"{k.removeprefix('aten::')} {v:.0f}" for k, v in
                        list(r["top_ops_ms"].items())[:4])
        lines.append(f"| {r['threads']} | {r['model']} | {r['method']} | "
                     f"{'fast' if r['fast'] else 'Brevitas'} | {r['step_ms']:.0f} | {shares} | "
                     f"{r['validation_ms']:.0f} ({share:.0f} %) | {ops} |")
    return lines


def report(out: dict[str, Any]) -> str:
    st = out["settings"]
    lines = [
        "# Training speed on CPU: Brevitas layers vs the fast fake-quant path (issue 25)",
        "",
        "`scripts/bench_train_speed.py` on mnist5k (28×28×1), "
        f"batch {st['batch_size']} labelled + {st['unlabeled_ratio']:g}× unlabelled, "
        f"families {', '.join(f'{f} ×{w:g}' for f, w in st['families'].items())} (width), "
        "torch threads 1 for throughput, on a 2-core VM: load average "
        f"{out['load_average_start'][0]:.1f} at the start, {out['load_average_end'][0]:.1f} at "
        "the end; arms are interleaved, "
        f"{st['rounds']} rounds of {st['steps']} steps each, medians shown (every sample in "
        "the .json). Throughput is read in CPU seconds (below: why).",
        "",
    ]
    if "throughput" in out:
        rows = out["throughput"]
        lines += ["## Throughput (images per CPU second, median; 1 thread)", "",
                  "*engine*: `run_training` (its steps only, validation excluded: "
                  "`images_per_s` × `train_time_s` ÷ `train_cpu_s` of summary.json); *bare "
                  "loop*: the same method and model, draw → method step → backward → SGD, no "
                  "EMA, schedule, logging or NaN check. Distill counts the student's images; "
                  "its float-twin teacher runs beside it. Why CPU seconds: with one thread a "
                  "process's CPU time follows the neighbours less than its wall time does "
                  "(wall-clock table below) — less, not nothing: under a load of about 9 on "
                  "these 2 cores the same arms read about 3× fewer images per CPU second "
                  "(shared caches and cores), so compare arms of one run only.", ""]
        if "img_cpu_s" in rows[0]:
            lines += [*_throughput_table(rows, "img_cpu_s"), "",
                      "### The same arms in wall-clock images/s (load-dependent)", ""]
        lines += [*_throughput_table(rows, "img_s"), ""]
    if "accuracy" in out:
        lines += ["## Same seeds, same result", "",
                  "| method | model | steps | seed | test acc, Brevitas | test acc, fast | "
                  "img/s Brevitas | img/s fast | final weights bit-identical |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---|"]
        lines += [f"| {r['method']} | {r['model']} | {r['steps']} | {r['seed']} | "
                  f"{100 * r['test_acc_brevitas']:.2f} % | {100 * r['test_acc_fast']:.2f} % | "
                  f"{r['img_s_brevitas']:,.0f} | {r['img_s_fast']:,.0f} | "
                  f"{'yes' if r['weights_identical'] else 'NO'} |" for r in out["accuracy"]]
        lines.append("")
    if "profile" in out:
        lines += ["## Where a step's time goes (torch.profiler)", "",
                  "Shares of one step (2 profiled steps after a warm-up; the profiler adds "
                  "overhead of its own, so read shares, not milliseconds). *augment*: kornia "
                  "views; *teacher*: the distill teacher's forward; *forward*: the student "
                  "network; *loss_other*: loss, concatenation, method bookkeeping and profiler "
                  "overhead. Validation = BatchNorm re-estimation on 1,024 images + 100 "
                  "validation images, once per `eval_every`.", "",
                  *_profile_table(out["profile"]), ""]
    lines += [*out.get("notes", []), "", *NOTES]
    return "\n".join(lines) + "\n"


#: What was tried and not kept (measured on this machine, same load conditions).
NOTES = [
    "## Tried, measured, not on the default path",
    "",
    "- **torch.compile** (torch 2.12, inductor, CPU): compiling a Brevitas 0.13.0 network "
    "fails in Dynamo (`InternalTorchDynamoError: IndexError: tuple index out of range`, in "
    "the input quantizer's proxy). Compiling the fast path works: tiny-w2a2 supervised, "
    "batch 64, 1 thread, 358 img/s against 271 eager (1.3×) once compiled — but the first "
    "two steps took 490 s on this loaded machine, and every new batch shape (labelled batch, "
    "FixMatch's three views, validation chunks, train/eval) compiles again. Runs here are "
    "minutes long, so compile would cost more than it saves, and inductor's fused "
    "BatchNorm/elementwise kernels reorder float arithmetic: it would not pass the "
    "bit-identity tests. Not added.",
    "- **Teacher predictions on the un-augmented view, computed once**: not done, because it "
    "changes what is learned — the student is distilled on the teacher's predictions for the "
    "*same augmented view* it sees (`tinyssl/methods/distill.py`, \"patient and consistent\" "
    "teacher). The teacher's forward already runs under `no_grad` on the float twin; its "
    "share is in the profile table.",
    "- **Cheaper augmentation**: kornia's weak view is a reflect-pad + random crop; its "
    "share is in the table. Replacing it would change the random stream (and so the "
    "learned weights) for every method, so it is left as it is.",
    "",
]


if __name__ == "__main__":
    main()
