"""Benchmark: first (decode) and second (cache) load of each real dataset in ../shared/data.

Each load runs in a fresh process against a fresh cache folder, as a new training run
would: 'first' decodes the archive and writes the cache, 'second' is the next run's load
(fingerprint + opening the memory-mapped entry), 'touch' reads every pixel once after it.
CPU seconds beside the wall time show how much of it was waiting for a busy machine.

    .venv/bin/python scripts/bench_data.py
Results: results/data_load.json and results/data_load.md.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
SOURCES = [("folder:cifar10-jpeg.tgz", None), ("folder:pbc64.tgz", None),
           ("folder:pbc64.tgz", 32), ("folder:malaria-gray50.tgz", None),
           ("npz:mnist5k.npz", None)]

# Run in a child process: times exclude the interpreter and import start-up.
CHILD = """
import json, sys, time
from pathlib import Path
from tinyssl.data import load_dataset
t, cpu = time.perf_counter(), time.process_time()
b = load_dataset(sys.argv[1], None if sys.argv[2] == "None" else int(sys.argv[2]),
                 cache_dir=Path(sys.argv[3]))
load, load_cpu = time.perf_counter() - t, time.process_time() - cpu
t = time.perf_counter()
int(b.train.x.sum(dtype="uint64")) + int(b.test.x.sum(dtype="uint64"))
print(json.dumps({"load_s": load, "load_cpu_s": load_cpu, "touch_s": time.perf_counter() - t,
                  "images": len(b.train) + len(b.test), "shape": list(b.image_shape)}))
"""


def _load(source: str, size: int | None, cache: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, source, str(size), str(cache)],
                         check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = []
    for spec, size in SOURCES:
        kind, _, name = spec.partition(":")
        with tempfile.TemporaryDirectory() as cache:
            first = _load(f"{kind}:{SHARED / name}", size, Path(cache))
            second = _load(f"{kind}:{SHARED / name}", size, Path(cache))
        rows.append({"source": spec, "image_size": size, "images": first["images"],
                     "shape": first["shape"], "first_load_s": round(first["load_s"], 3),
                     "first_load_cpu_s": round(first["load_cpu_s"], 3),
                     "second_load_s": round(second["load_s"], 4),
                     "second_touch_s": round(second["touch_s"], 3)})
        print(rows[-1], flush=True)
    env = {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version(),
           "load_avg_1m": round(os.getloadavg()[0], 2)}
    results = REPO / "results"
    results.mkdir(exist_ok=True)
    (results / "data_load.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    lines = [f"# Data loading ({env['cpus']} CPUs, load average {env['load_avg_1m']})", "",
             "| source | size | images | first load (decode) s | its CPU s | second load s | "
             "then read every pixel s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| `{r['source']}` | {r['image_size'] or 'native'} | {r['images']} | "
              f"{r['first_load_s']} | {r['first_load_cpu_s']} | {r['second_load_s']} | "
              f"{r['second_touch_s']} |"
              for r in rows]
    (results / "data_load.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
