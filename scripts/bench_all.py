"""Run every benchmark of the project and gather their results into results/ALL.md.

Each `scripts/bench_*.py` writes its own results/<name>.md; this script runs them in turn at
their full settings (each script documents its own reduced --quick mode, which writes
elsewhere or must be run by hand) and concatenates those files under a header with date
and machine. `--only bench_inference.py …` refreshes a subset.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
#: (benchmark script, its arguments, the results file it writes: None for a call that only
#: adds runs to a table a later call writes)
PBC64_FEW = ["--fit-cells", "pbc64-1", "pbc64-2"]
BENCHMARKS: list[tuple[str, list[str], str | None]] = [
    ("bench_cli.py", [], "cli.md"),
    ("bench_data.py", [], "data_load.md"),
    ("bench_semisup.py", [], "semisup.md"),
    ("bench_ssl.py", [], "ssl.md"),
    ("bench_inference.py", [], "inference.md"),
    ("bench_finn_estimates.py", [], "finn_estimates.md"),
    ("bench_rtl.py", [], "rtl_verify.md"),
    ("bench_fit.py", [], "fit.md"),
    ("bench_fit.py", ["--suite"], "fit-suite.md"),
    ("bench_train_speed.py", [], "train_speed.md"),
    ("bench_cifar10.py", [], "cifar10.md"),
    ("bench_select.py", [], "select.md"),
    ("bench_select.py", ["--rules", "--seeds", "0", "1", "2", "3", "4"], "select-rules.md"),
    # select-fit.md holds every finished fit of these calls: more seeds where uniform random
    # labels spread most (pbc64), and the two-round arm at 4 labels per class
    ("bench_select.py", ["--fit", *PBC64_FEW, "pbc64-4", "--fit-arms", "uniform", "typicover",
                         "--seeds", "3", "4"], None),
    ("bench_select.py", ["--fit", *PBC64_FEW, "--fit-arms", "uniform", "typicover",
                         "--seeds", "5", "6"], None),
    ("bench_select.py", ["--fit", "--fit-cells", "pbc64-4", "malaria-4", "mnist5k-4",
                         "--fit-arms", "typicover-rounds"], None),
    ("bench_select.py", ["--fit", "--seeds", "0", "1", "2"], "select-fit.md"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=None, help="subset of script names")
    args = parser.parse_args()
    machine = (f"{platform.node()} · {platform.processor() or platform.machine()} · "
               f"{torch.get_num_threads()} threads · "
               f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}")
    parts = [f"# tinyssl benchmarks\n\n{time.strftime('%Y-%m-%d %H:%M')} on {machine}\n"]
    failed = []
    for script, script_args, result in BENCHMARKS:
        if args.only and script not in args.only:
            continue
        name = " ".join([script, *script_args])
        cmd = [sys.executable, str(ROOT / "scripts" / script), *script_args]
        print("$", " ".join(cmd), flush=True)
        start = time.time()
        if subprocess.run(cmd, cwd=ROOT).returncode != 0:
            failed.append(name)
            continue
        if result is None:
            continue
        text = (ROOT / "results" / result).read_text()
        parts.append(f"<!-- {name}: {time.time() - start:.0f} s -->\n{text}\n")
    (ROOT / "results" / "ALL.md").write_text("\n".join(parts))
    print(f"wrote results/ALL.md; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
