"""Where training runs: the device, and how many CPU threads torch may use.

Two trainings started at once on a 2-core machine each ran 21× slower (2,362 → 112 images/s)
when both took every core's threads: torch's intra-op threads spin while they wait, so
oversubscribed cores mostly spin. The default thread count therefore divides the cores
this process may use among the tinyssl processes already running.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import torch


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but no CUDA GPU is visible.")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _is_tinyssl(cmdline: list[str]) -> bool:
    """A `tinyssl …` or `python -m tinyssl…` command line."""
    return any(Path(arg).name == "tinyssl" or arg.startswith("tinyssl.") for arg in cmdline[:3])


def other_tinyssl_processes() -> int:
    """tinyssl commands running beside this one (not this process or its parent)."""
    me = psutil.Process()
    skip = {me.pid, me.ppid()}
    count = 0
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.info["pid"] not in skip and _is_tinyssl(proc.info["cmdline"] or []):
                count += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return count


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def set_threads(threads: int | None) -> int:
    """torch's CPU threads: `threads`, or (None) the available cores shared with the other
    tinyssl processes running now, with a note saying so. Returns the count set."""
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be at least 1 (got {threads}).")
    if threads is None:
        cores, others = available_cores(), other_tinyssl_processes()
        threads = max(1, cores // (others + 1))
        if others:
            print(f"note: {others} other tinyssl process(es) running; using {threads} of "
                  f"{cores} CPU threads (set --threads to choose).", file=sys.stderr)
    torch.set_num_threads(threads)
    return threads
