"""Benchmark: CPU inference throughput (images/s) of one quantized network in three runtimes:
Brevitas (PyTorch), onnxruntime on the QCDQ graph, and FINN's Python execution of its
hardware-layer graph (the functional model of the accelerator), at batch 1 and batch 256.

    .venv/bin/python scripts/bench_inference.py            # tiny-w2a2 and cnv-w2a2, 32×32×3
    .venv/bin/python scripts/bench_inference.py --quick    # tiny-w2a2 only, fewer images
Results: results/inference.md (+ .json). One CPU thread everywhere (torch and onnxruntime),
so the numbers compare runtimes, not core counts. FINN's graphs are fixed to batch 1, so
a larger batch is a loop of single-image executions (same images/s as batch 1, not re-measured).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_finn_estimates import untrained_run

from tinyssl.export import QCDQ_NAME
from tinyssl.fpga import build_run
from tinyssl.fpga.build import finn_dir
from tinyssl.models import load_net
from tinyssl.verify import stages

REPO = Path(__file__).resolve().parents[1]
FINN = "FINN python (HW layers)"
RUNTIMES = ("brevitas (PyTorch)", "onnxruntime (QCDQ)", FINN)


def throughput(stage: stages.Stage, x: np.ndarray, batch: int, seconds: float) -> float:
    """Images per second over at least `seconds` (after one warm-up call)."""
    stage(x[:batch])
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or done == 0:
        stage(x[:batch])
        done += batch
    return done / elapsed


def make_stage(name: str, run: Path, batch: int) -> stages.Stage:
    if name == "brevitas (PyTorch)":
        return stages.brevitas_stage(load_net(run)[0])
    if name == "onnxruntime (QCDQ)":
        return stages.onnxruntime_stage(run / QCDQ_NAME, batch=batch)
    return stages.finn_stage(finn_dir(run) / "intermediate_models" / "step_convert_to_hw.onnx")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None,
                    help="default results/inference.md (results/inference_quick.md with --quick)")
    args = ap.parse_args()
    args.out = args.out or REPO / "results" / f"inference{'_quick' if args.quick else ''}.md"
    torch.set_num_threads(1)
    models = ["tiny-w2a2"] if args.quick else ["tiny-w2a2", "cnv-w2a2"]
    seconds = 1.0 if args.quick else 3.0
    batches = (1, 32) if args.quick else (1, 256)
    x = np.random.default_rng(0).integers(0, 256, (max(batches), 3, 32, 32)).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            run = untrained_run(Path(tmp), model)
            build_run(run)
            for name in RUNTIMES:
                for batch in batches:
                    if name == FINN and batch > 1:
                        continue  # batch-1 graph: a batch is a loop of batch-1 executions
                    ips = throughput(make_stage(name, run, batch), x, batch, seconds)
                    rows.append({"model": model, "runtime": name, "batch": batch,
                                 "images_per_s": ips})
                    print(rows[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    cpu = platform.processor() or platform.machine()
    lines = [f"# CPU inference throughput (images/s, 3×32×32, 1 thread, {cpu})", "",
             "Untrained networks (throughput does not depend on the weights), random uint8 images.",
             "Measured on a shared 2-core machine: absolute numbers are noisy, ratios indicative.",
             "FINN's Python execution is its functional model (for verification), not a runtime.",
             "",
             "| model | runtime | " + " | ".join(f"batch {b}" for b in batches) + " |",
             "|---|---|" + "---:|" * len(batches)]
    for model in models:
        for name in RUNTIMES:
            vals = [f"{r['images_per_s']:,.1f}" for r in rows
                    if r["model"] == model and r["runtime"] == name]
            vals += ["= batch 1"] * (len(batches) - len(vals))
            lines.append(f"| {model} | {name} | " + " | ".join(vals) + " |")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
