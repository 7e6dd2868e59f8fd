"""Benchmark: how long the command line takes to answer (a new user's first impression).

Each command runs 7 times in a fresh process (the installed `tinyssl` entry point, as a user
types it); the median wall time is reported against the targets: `--help` and `--version`
under 0.5 s, `data info` on a cached source under 1.5 s (2-core machine). CPU seconds of
the child beside the wall time show whether the machine was busy.

    .venv/bin/python scripts/bench_cli.py
Results: results/cli.json and results/cli.md.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINYSSL = Path(sys.executable).with_name("tinyssl")
SHARED = REPO.parent / "shared" / "data"
TARGETS = {"--help": 0.5, "--version": 0.5, "train --help": 0.5, "fit --help": 0.5,
           "data info": 1.5}


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(TINYSSL), *args], check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    source = (f"npz:{SHARED / 'mnist5k.npz'}" if (SHARED / "mnist5k.npz").is_file()
              else "digits")
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TINYSSL_CACHE": cache}
        timed(["data", "info", source], env)  # fills the cache: the timed loads are cached
        for name in TARGETS:
            args = ["data", "info", source] if name == "data info" else name.split()
            runs = [timed(args, env) for _ in range(7)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            rows.append({"command": f"tinyssl {' '.join(args)}", "median_s": round(wall, 3),
                         "cpu_s": round(cpu, 3), "target_s": TARGETS[name],
                         "met": wall < TARGETS[name]})
    out = REPO / "results"
    out.mkdir(exist_ok=True)
    meta = {"machine": platform.platform(), "cores": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d")}
    (out / "cli.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    lines = ["# Command-line start-up (`scripts/bench_cli.py`)", "",
             f"{meta['date']}, {meta['cores']} cores; median of 7 fresh processes.", "",
             "| command | median s | CPU s | target s | met |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{r['command'].replace(str(SHARED) + '/', '')}` | {r['median_s']:.2f} | "
              f"{r['cpu_s']:.2f} | {r['target_s']} | {'yes' if r['met'] else 'NO'} |"
              for r in rows]
    (out / "cli.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
