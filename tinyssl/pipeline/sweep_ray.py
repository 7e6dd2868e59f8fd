"""`tinyssl sweep CONFIG --ray [ADDRESS]`: the sweep's cells as Ray tasks.

Ray schedules; everything else is the built-in sweep's: each task runs one cell through
`sweep.run_claimed` beside it (same cell directories, same O_EXCL claim, so a file-claim
worker on the same directory never runs a cell twice, and a rerun resumes what was
interrupted), and the driver writes `results.csv` when the tasks are done. The sweep
directory must be one that every Ray node sees (as for several machines without Ray: a
shared file system).

Each task asks Ray for the sweep's `ray: {num_cpus, num_gpus}` (default: 1 CPU, and 1 GPU
when the cell's device is `cuda`, or `auto` on a cluster with GPUs); the task gives torch
that many threads.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tinyssl.pipeline.sweep import SweepConfig, cell_done, cell_id, run_claimed, write_results_csv


@dataclass
class CellOutcome:
    cell: str
    run: Path | None  # None: already done, or held by another worker
    error: str | None = None  # the task's exception, one line


def _reachable(address: str) -> None:
    """A TCP connection to ADDRESS within 5 s, or one sentence: ray.init would retry for
    about a minute before failing with pages of log."""
    if address in ("auto", "local"):
        return
    split = urlsplit(address if "://" in address else f"ray://{address}")
    host, port = split.hostname, split.port or (10001 if address.startswith("ray://") else 6379)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as e:
        raise ValueError(f"the Ray cluster at {address} does not answer ({e.strerror or e}); "
                         "start it (`ray start --head`) or leave the address out for a "
                         "local Ray.") from None


def connect(address: str) -> None:
    """A new local Ray instance on this machine ("local") or the cluster at `address`."""
    import ray

    _reachable(address)
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    except ConnectionError as e:
        raise ValueError(f"cannot join the Ray cluster at {address} ({e}).") from None


def _needs(cfg: SweepConfig, cell: dict[str, Any], gpus_in_cluster: float) -> dict[str, float]:
    own = dict(cfg.ray or {})
    if unknown := set(own) - {"num_cpus", "num_gpus"}:
        raise ValueError(f"sweep ray: unknown keys {sorted(unknown)}; use num_cpus, num_gpus.")
    device = {**cfg.base, **cell}.get("device", "auto")
    gpu = device == "cuda" or (device == "auto" and gpus_in_cluster > 0)
    return {"num_cpus": float(own.get("num_cpus", 1)),
            "num_gpus": float(own.get("num_gpus", 1 if gpu else 0))}


def _task(cfg: SweepConfig, cell: dict[str, Any], cell_dir: str, threads: int) -> str | None:
    import torch

    torch.set_num_threads(max(1, threads))
    run = run_claimed(cfg, cell, Path(cell_dir))
    return None if run is None else str(run)


def run_sweep_ray(config: Path, root: Path, address: str) -> list[CellOutcome]:
    """Every unfinished cell as a Ray task (none to run: no Ray started); waits for all,
    writes results.csv, returns each cell's outcome (a failed cell is reported, the others
    still run)."""
    cfg = SweepConfig.load(config)
    cells = {cell_id(cell, cfg.base): cell for cell in cfg.cells}
    todo = {cid: cell for cid, cell in cells.items() if not cell_done(root / "cells" / cid, cfg)}
    outcomes = [CellOutcome(cid, None) for cid in cells if cid not in todo]
    if todo:
        outcomes += _run_tasks(cfg, todo, root, address)
    write_results_csv(config, root)
    return outcomes


def _run_tasks(cfg: SweepConfig, todo: dict[str, dict[str, Any]], root: Path,
               address: str) -> list[CellOutcome]:
    import ray

    connect(address)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(_task)
        refs = {}
        for cid, cell in todo.items():
            needs = _needs(cfg, cell, gpus)
            refs[cid] = remote.options(**needs, max_retries=0).remote(
                cfg, cell, str((root / "cells" / cid).resolve()), int(needs["num_cpus"]))
        outcomes = []
        for cid, ref in refs.items():
            try:
                run = ray.get(ref)
                outcomes.append(CellOutcome(cid, None if run is None else Path(run)))
            except ray.exceptions.RayError as e:
                cause = getattr(e, "cause", None) or e
                outcomes.append(CellOutcome(cid, None, f"{type(cause).__name__}: "
                                            f"{str(cause).strip().splitlines()[-1]}"))
    finally:
        ray.shutdown()
    return outcomes
