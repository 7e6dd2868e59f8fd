"""Benchmark: `tinyssl verify RUN --rtl` on trained runs — every RTL node alone and every
stitched chain (with FINN's width converters and FIFOs) against FINN's Python execution.

    .venv/bin/python scripts/bench_rtl.py [RUN ...] [--images 100] [--reuse]

Without RUN it trains (once, kept in runs/bench-rtl/) the two runs of results/rtl_verify.md:
tiny-w2a2 (16 px, 400 steps) and cnv-w2a2 x0.125 (32 px, 300 steps) on digits, 50 labels/class.

Runs `verify --rtl` on each run (wall time measured here; `--reuse` reads a verify.json already
written for that many images instead, and the wall time from the previous results file) and
writes results/rtl_verify.json and results/rtl_verify.md: per node cycles/image next to FINN's
estimate, per chain its layers, FIFOs and width converters, the HLS-only layers,
compile/simulation/reference times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tinyssl.runs import atomic_write_bytes

REPO = Path(__file__).resolve().parents[1]
#: run name -> `tinyssl train` arguments of the runs measured in results/rtl_verify.md
TRAINED = {
    "rtl-tiny": ["--model", "tiny-w2a2", "--image-size", "16", "--steps", "400"],
    "rtl-cnv": ["--model", "cnv-w2a2", "--width-mult", "0.125", "--image-size", "32",
                "--steps", "300"],
}


def trained(runs_dir: Path) -> list[Path]:
    """The TRAINED runs in runs_dir, training those not finished yet."""
    out = []
    for name, extra in TRAINED.items():
        done = sorted(p.parent for p in runs_dir.glob(f"{name}-*/summary.json"))
        if not done:
            subprocess.run([sys.executable, "-m", "tinyssl.cli", "train", "--data", "digits",
                            *extra, "--labels-per-class", "50", "--device", "cpu",
                            "--no-progress", "--threads", "1", "--runs", str(runs_dir),
                            "--name", name], check=True, env={**os.environ,
                                                              "PYTHONPATH": str(REPO)})
            done = sorted(p.parent for p in runs_dir.glob(f"{name}-*/summary.json"))
        out.append(done[-1])
    return out


def verify(run: Path, images: int, reuse: bool) -> tuple[dict, float | None]:
    report = run / "verify.json"
    if reuse and report.is_file():
        done = json.loads(report.read_text())
        if done.get("rtl", {}).get("images") == images:
            return done, None
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tinyssl.cli", "verify", str(run), "--images",
                           str(images), "--rtl"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = round(time.perf_counter() - start, 1)
    if proc.returncode not in (0, 1):  # 1: verify ran and found a difference (reported)
        sys.exit(f"verify {run} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(report.read_text()), wall


def summary(run: Path, result: dict, wall: float | None) -> dict:
    r = result["rtl"]
    cfg = (run / "config.yaml").read_text()
    pick = {k: v for k, v in (line.split(": ", 1) for line in cfg.splitlines() if ": " in line)
            if k in ("data", "model", "width_mult", "image_size", "steps")}
    return {"run": run.name, "config": pick, "images": r["images"], "agree": result["agree"],
            "bit_exact": r["bit_exact"], "stitched_bit_exact": r["stitched_bit_exact"],
            "nodes": r["nodes"], "stitched": r["stitched"], "not_simulated": r["not_simulated"],
            "simulator": r["simulator"], "python_reference_seconds": r["python_seconds"],
            "verify_wall_seconds": wall, "resources": r["resources"]["difference"],
            "stage_seconds": {k: s["seconds"] for k, s in result["stages"].items()}}


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:,.0f}"


def markdown(rows: list[dict], load: str) -> str:
    out = ["# `verify --rtl`: FINN's generated Verilog under Verilator, trained runs",
           "", f"Written by `scripts/bench_rtl.py`. Machine: the shared 2-core x86-64 box, {load}"
           " (other sessions training), so times are upper bounds. Board Pynq-Z1 (xc7z020, "
           "DSP48E1), 100 MHz, auto folding for 1000 FPS; Verilator "
           f"{rows[0]['simulator']['verilator'] if rows else '?'}; finn-plus 1.6.1.", ""]
    for row in rows:
        sim = row["simulator"]
        c = row["config"]
        nodes = [n for n in row["nodes"] if n["simulated"]]
        out += [f"## {c.get('model')} ×{c.get('width_mult')} on {c.get('data')}, "
                f"{c.get('image_size')} px, {c.get('steps')} steps ({row['run']}), "
                f"{row['images']} images", "",
                f"{len(nodes)} RTL nodes alone: "
                f"{sum(n['bit_exact'] for n in nodes)} bit-exact; {len(row['stitched'])} "
                f"stitched chains: {sum(s['bit_exact'] for s in row['stitched'])} bit-exact; "
                f"stage verdict {'bit-exact' if row['bit_exact'] else 'DIFFERS'}. "
                f"{sim['lanes']} lanes in one design, compiled in {sim['compile_seconds']:.0f} s"
                f"{' (cached)' if sim['cached'] else ''}, simulated in "
                f"{sim['run_seconds']:.1f} s ({sim['cycles']:,} cycles); FINN Python reference "
                f"{row['python_reference_seconds']:.0f} s; whole `verify --rtl` "
                + (f"{row['verify_wall_seconds']:.0f} s wall." if row["verify_wall_seconds"]
                   else "not timed (reused)."), "",
                "| node | cycles/image (Verilator) | FINN estimate | result |",
                "|---|---:|---:|---|"]
        for n in row["nodes"]:
            if n["simulated"]:
                res = "bit-exact" if n["bit_exact"] else f"differs {n['first_difference']}"
                out.append(f"| {n['node']} | {_num(n['cycles_per_image'])} | "
                           f"{_num(n['finn_estimate_cycles'])} | {res} |")
            else:
                out.append(f"| {n['node']} | | | not simulated (HLS only) |")
        for s in row["stitched"]:
            fifos = sum(x.startswith("StreamingFIFO") for x in s["nodes"])
            dwcs = [x for x in s["nodes"] if x.startswith("StreamingDataWidthConverter")]
            layers = len(s["nodes"]) - fifos - len(dwcs)
            extra = f", {len(dwcs)} width converter{'s' if len(dwcs) > 1 else ''}" if dwcs else ""
            out.append(f"| stitched {s['nodes'][0]} .. {s['nodes'][-1]} ({layers} layers, "
                       f"{fifos} FIFOs{extra}) | {_num(s['cycles_per_image'])} | | "
                       f"{'bit-exact' if s['bit_exact'] else 'differs'} |")
        out += ["", "RTL-variant build vs the default build (FINN estimates): " + ", ".join(
            f"{k} {v:+,.0f}" for k, v in (row["resources"] or {}).items()) + ".",
            f"Not simulated (HLS only): {', '.join(row['not_simulated'])}.", ""]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", type=Path)
    ap.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "bench-rtl")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "results" / "rtl_verify")
    args = ap.parse_args()
    runs = args.runs or trained(args.runs_dir)
    rows = [summary(run, *verify(run, args.images, args.reuse)) for run in runs]
    old = args.out.with_suffix(".json")
    timed = {r["run"]: r["verify_wall_seconds"] for r in json.loads(old.read_text())} \
        if old.is_file() else {}
    for row in rows:  # a reused verify.json keeps the wall time measured when it was written
        row["verify_wall_seconds"] = row["verify_wall_seconds"] or timed.get(row["run"])
    load = f"load average {os.getloadavg()[0]:.0f} when written"
    atomic_write_bytes(args.out.with_suffix(".json"), (json.dumps(rows, indent=2) + "\n").encode())
    atomic_write_bytes(args.out.with_suffix(".md"), markdown(rows, load).encode())


if __name__ == "__main__":
    main()
