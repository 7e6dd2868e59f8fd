"""How many CPU threads a run uses, and how they wait — chosen so results never depend on
what else the machine is running.

Measured on the 2-core development VM (tiny-w2a2 / small-w2a2, 80 supervised mnist5k steps):
- The thread count changes the numbers: 1 and 2 threads give different weights (6.9e-5
  after 60 steps) and test accuracies (60.9 vs 61.8 %). Dividing the cores among the tinyssl
  processes running (the old default) made the same seed give 26.8 % with a neighbour and
  31.8 % alone. So the default is a fixed count, every core this process may use, and it is
  recorded in the run's environment.json.
- OpenMP's waiting threads spin. Alone, spinning is fastest (2 threads, idle machine:
  1,399 img/s spinning vs 1,135 passive); with a neighbour it collapses (load 9: 29 img/s
  spinning, 237 passive). The wait policy changes speed, not numbers, so it may follow the
  load: passive when other tinyssl processes are running as this one starts.

Torch-free on purpose: OMP_WAIT_POLICY is read once, when torch loads the OpenMP runtime, so
the CLI calls `choose_wait_policy` before a command imports torch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _is_tinyssl(cmdline: list[str]) -> bool:
    """A `tinyssl …` or `python -m tinyssl…` command line."""
    return any(Path(arg).name == "tinyssl" or arg.startswith("tinyssl.") for arg in cmdline[:3])


def other_tinyssl_processes() -> int:
    """tinyssl commands running beside this one (not this process or its parent)."""
    import psutil

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
    """The cores this process may run on (its affinity mask, e.g. under taskset or a
    container's cpuset), not the machine's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def default_threads() -> int:
    """The reproducible default: every available core, whatever else is running."""
    return available_cores()


def choose_wait_policy() -> str | None:
    """Make OpenMP threads sleep instead of spin (OMP_WAIT_POLICY=PASSIVE) when other tinyssl
    processes share the machine. A policy the user set is kept; once torch is imported the
    choice can no longer take effect and nothing is changed. Returns the policy set, if any."""
    if "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return None
    if other_tinyssl_processes():
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        return "PASSIVE"
    return None
