"""Benchmark: FINN estimates for FINN's own CNV networks (cnv-w1a1, cnv-w2a2, CIFAR-10 shape
3×32×32, 10 classes) on Pynq-Z1 and ZCU104 at FINN's reference folding (finn-examples'
bnn-pynq folding configs, translated to finn-plus layer names in hw/folding/), plus the
auto-folding result for a target FPS.

    .venv/bin/python scripts/bench_finn_estimates.py            # both networks, both boards
    .venv/bin/python scripts/bench_finn_estimates.py --quick    # cnv-w1a1 on Pynq-Z1 only
Results: results/finn_estimates.md (+ .json). Estimates do not depend on trained weights
(except the thresholds' bit width), so untrained networks with BN at its initial statistics
are built.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from tinyssl.fpga import build_run
from tinyssl.runs import save_checkpoint

REPO = Path(__file__).resolve().parents[1]
FOLDING = REPO / "hw" / "folding"


def untrained_run(root: Path, model: str, channels: int = 3, size: int = 32,
                  classes: int = 10, width_mult: float = 1.0) -> Path:
    """A run directory holding an untrained `model` (enough for estimates and throughput)."""
    from tinyssl.models import build_model

    run = root / f"{model}-w{width_mult}"
    net = build_model(model, channels, size, classes, width_mult)
    spec = {"name": model, "in_channels": channels, "image_size": size, "num_classes": classes,
            "width_mult": width_mult}
    save_checkpoint(run / "checkpoints" / "best.pt", {"model": net.state_dict(),
                                                      "model_spec": spec,
                                                      "classes": [str(i) for i in range(classes)]})
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--target-fps", type=float, default=3000.0)
    ap.add_argument("--out", type=Path, default=None,
                    help="default results/finn_estimates.md (…_quick.md with --quick)")
    args = ap.parse_args()
    args.out = args.out or REPO / "results" / f"finn_estimates{'_quick' if args.quick else ''}.md"
    torch.set_num_threads(1)
    models = ["cnv-w1a1"] if args.quick else ["cnv-w1a1", "cnv-w2a2"]
    boards = ["Pynq-Z1"] if args.quick else ["Pynq-Z1", "ZCU104"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            run = untrained_run(Path(tmp), model)
            for board in boards:
                for folding in (FOLDING / f"{model}_finn-examples.json", None):
                    start = time.perf_counter()
                    r = build_run(run, board, target_fps=args.target_fps, folding=folding)
                    rows.append({"model": model, "board": board,
                                 "folding": "finn-examples" if folding else
                                 f"auto @ {args.target_fps:.0f} FPS",
                                 "est_fps": r["est_fps"], "latency_ms": r["latency_ms"],
                                 "bottleneck": r["bottleneck"], "fits": r["fits"],
                                 **r["totals"], "build_s": round(time.perf_counter() - start, 1)})
                    print(rows[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "# FINN estimates for CNV (3×32×32, 10 classes), 100 MHz",
        "",
        "FINN's analytical estimates (finn-plus step_generate_estimate_reports), no synthesis.",
        "`finn-examples` = the reference folding of Xilinx/finn-examples build/bnn-pynq",
        "(hw/folding/). finn-examples publishes these folding configs rather than estimate",
        "figures; its bottleneck layer at that folding sets the throughput FINN's analytical",
        "model predicts (cycles of the slowest layer at 100 MHz). Estimates do not depend on",
        "the board: the board only decides whether the design fits.",
        "",
        "| model | board | folding | est. FPS | latency ms | bottleneck | LUT | BRAM_18K | URAM "
        "| DSP | fits | build s |",
        "|---|---|---|---:|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['board']} | {r['folding']} | {r['est_fps']:,.0f} | "
                     f"{r['latency_ms']:.3f} | {r['bottleneck']} | {r['LUT']:,.0f} | "
                     f"{r['BRAM_18K']:,.0f} | {r['URAM']:,.0f} | {r['DSP']:,.0f} | "
                     f"{'yes' if r['fits'] else 'no'} | {r['build_s']} |")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
