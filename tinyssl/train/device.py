"""Where training runs: the device, and how many CPU threads torch may use (the policy and
its measurements: threads.py)."""

from __future__ import annotations

import os
import sys

import torch

from tinyssl.train.threads import default_threads, other_tinyssl_processes


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but no CUDA GPU is visible.")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def set_threads(threads: int | None) -> int:
    """torch's CPU threads: `threads`, or (None) the reproducible default — every available
    core, whatever else runs (see threads.py). Returns the count set."""
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be at least 1 (got {threads}).")
    if threads is None:
        threads = default_threads()
        others = other_tinyssl_processes()
        if others:
            waits = ("passive waits" if os.environ.get("OMP_WAIT_POLICY") == "PASSIVE"
                     else f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
            print(f"note: {others} other tinyssl process(es) running; still using all "
                  f"{threads} CPU threads so results do not depend on them ({waits}; set "
                  f"--threads to choose).", file=sys.stderr)
    torch.set_num_threads(threads)
    return threads
