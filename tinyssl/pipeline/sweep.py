"""Experiment sweeps: a YAML grid of training configs, run resumably by any number of workers.

    name: label-efficiency
    base: {data: digits, image_size: 16, model: tiny-w2a2, steps: 300}
    grid: {method: [supervised, uda], labels_per_class: [5, 20], seed: [0, 1]}
    runs: [{method: fixmatch, labels_per_class: 5}]  # optional: extra cells, each × grid
    fpga: {board: Pynq-Z1, target_fps: 10000}   # optional: export + FINN estimates per run
    verify: {images: 64}                        # optional: bit-accurate check per run
    ray: {num_cpus: 2, num_gpus: 1}             # optional: each cell's needs (sweep --ray)

Each grid cell owns one directory `SWEEP/cells/<cell-id>/`, named from its config, so a
rerun finds it again. A worker claims a cell by creating `claim` with O_EXCL (atomic on
local and NFS-v3+ file systems), so processes or machines sharing the directory never run
the same cell twice; a claim is taken over when its process has died (same host) or its
cell shows no progress for `stale_after_s` (another host).
Finished cells (summary.json present and every requested stage done) are skipped;
interrupted ones resume from their last checkpoint.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import logging
import multiprocessing as mp
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tinyssl.config import read_options
from tinyssl.runs import atomic_write_bytes, read_json

log = logging.getLogger(__name__)


@dataclass
class SweepConfig:
    name: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    fpga: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    ray: dict[str, Any] | None = None  # each cell's Ray resources: {num_cpus, num_gpus}
    stale_after_s: float = 1800.0
    cells: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> SweepConfig:
        known = ["base", "fpga", "grid", "name", "ray", "runs", "stale_after_s", "verify"]
        raw = read_options(path, {}, known, "sweep")
        grid = raw.get("grid") or {}
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{path}: grid.{key} must be a non-empty list.")
        cfg = cls(name=raw.get("name", path.stem), base=raw.get("base") or {}, grid=grid,
                  fpga=raw.get("fpga"), verify=raw.get("verify"), ray=raw.get("ray"),
                  stale_after_s=float(raw.get("stale_after_s", 1800.0)))
        keys = list(grid)
        combos = [dict(zip(keys, combo, strict=True))
                  for combo in itertools.product(*(grid[k] for k in keys))]
        explicit = raw.get("runs")
        if explicit is not None and not (
                isinstance(explicit, list) and all(isinstance(r, dict) for r in explicit)):
            raise ValueError(f"{path}: runs must be a list of mappings of config fields.")
        cfg.cells = [{**run, **combo} for run in (explicit or [{}]) for combo in combos]
        return cfg


def check_sweep(cfg: SweepConfig) -> None:
    """Every cell's config, data and label budget, and the fpga/verify options, before any
    directory exists or any cell trains: a bad value in the last cell is refused at once,
    naming that cell, instead of after the cells before it have trained."""
    from tinyssl.config import load_config
    from tinyssl.data import load_dataset, make_split, require_classes
    from tinyssl.fpga.options import BUILD_OPTIONS, check_build_options

    if cfg.fpga is not None:
        if not isinstance(cfg.fpga, dict) or set(cfg.fpga) - set(BUILD_OPTIONS):
            raise ValueError(f"sweep fpga: is a mapping of {', '.join(BUILD_OPTIONS)} (got "
                             f"{cfg.fpga}).")
        check_build_options(**{"board": "Pynq-Z1", "target_fps": 1000.0, **cfg.fpga})
    if cfg.verify is not None:
        images = cfg.verify.get("images", 1) if isinstance(cfg.verify, dict) else None
        if not isinstance(images, int) or images < 1 or set(cfg.verify) - {"images"}:
            raise ValueError(f"sweep verify: takes images, a whole number >= 1 (got "
                             f"{cfg.verify}).")
    if cfg.stale_after_s <= 0:
        raise ValueError(f"stale_after_s must be positive (got {cfg.stale_after_s}).")
    configs = []
    for cell in cfg.cells:
        try:
            configs.append(load_config(None, {**cfg.base, **cell}))
        except ValueError as e:
            raise ValueError(f"cell {cell_id(cell, cfg.base)}: {e}") from None
    bundles: dict[tuple[Any, ...], Any] = {}
    for cell, tc in zip(cfg.cells, configs, strict=True):
        key = (tc.data, tc.image_size, tc.resize, tc.cache_dir)
        try:
            if key not in bundles:
                bundles[key] = load_dataset(tc.data, image_size=tc.image_size, resize=tc.resize,
                                            cache_dir=Path(tc.cache_dir) if tc.cache_dir else None)
            bundle = bundles[key]
            if _uses_labels(tc.method):
                require_classes(bundle)
            if tc.labels_file is None and bundle.num_classes:
                make_split(bundle, bundle.num_classes, labels=tc.labels,
                           labels_per_class=tc.labels_per_class, val_per_class=tc.val_per_class,
                           seed=tc.seed)
        except ValueError as e:
            raise ValueError(f"cell {cell_id(cell, cfg.base)}: {e}") from None


def _uses_labels(method: str) -> bool:
    from tinyssl.methods import get_method

    return get_method(method).uses_labeled


def cell_id(cell: dict[str, Any], base: dict[str, Any]) -> str:
    """Readable and stable: grid values in order, plus a hash of the whole resolved config."""
    readable = "-".join(f"{k}{v}" for k, v in cell.items())
    digest = hashlib.sha1(json.dumps({**base, **cell}, sort_keys=True, default=str).encode())
    safe = "".join(c if c.isalnum() or c in "._=" else "_" for c in readable)
    return f"{safe}-{digest.hexdigest()[:8]}"


def _claim_is_stale(cell_dir: Path, claim: Path, stale_after_s: float) -> bool:
    """A claim is stale when its process is gone (same host) or the cell made no progress."""
    host, _, pid = claim.read_text().partition(":")
    if host == socket.gethostname() and pid.split(":")[0].isdigit():
        return not psutil.pid_exists(int(pid.split(":")[0]))
    newest = max((p.stat().st_mtime for p in cell_dir.rglob("*") if p.is_file()), default=0.0)
    return time.time() - newest > stale_after_s


def _claim(cell_dir: Path, stale_after_s: float) -> bool:
    """Take the cell for this process; False when another live worker holds it. The claim
    is a lock (O_EXCL create), not data: a torn owner line only delays a stale take-over."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    claim = cell_dir / "claim"
    owner = f"{socket.gethostname()}:{os.getpid()}:{time.time():.0f}"
    try:
        fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if not _claim_is_stale(cell_dir, claim, stale_after_s):
            return False
        log.warning("taking over stale claim of %s (%s)", cell_dir.name, claim.read_text())
        claim.write_text(owner)
        return True
    with os.fdopen(fd, "w") as f:
        f.write(owner)
    return True


def _train_run(cell_dir: Path) -> Path | None:
    runs = sorted(p for p in cell_dir.iterdir() if p.is_dir() and (p / "config.yaml").exists())
    return runs[-1] if runs else None


def cell_done(cell_dir: Path, cfg: SweepConfig) -> bool:
    run = _train_run(cell_dir) if cell_dir.is_dir() else None
    if run is None or not (run / "summary.json").exists():
        return False
    if cfg.fpga and not (run / "fpga" / "report.json").exists():
        return False
    return not (cfg.verify and not (run / "verify.json").exists())


def run_cell(cfg: SweepConfig, cell: dict[str, Any], cell_dir: Path) -> Path:
    """Train (or resume), then the optional export → FPGA estimates → verification."""
    from tinyssl.config import load_config
    from tinyssl.pipeline import run_training

    run = _train_run(cell_dir)
    if run is None or not (run / "summary.json").exists():
        train_cfg = load_config(None, {**cfg.base, **cell})
        run = run_training(train_cfg, runs_root=cell_dir, resume=run)
    quantized = (run / "summary.json").exists() and _is_quantized(run)
    if cfg.fpga and quantized and not (run / "fpga" / "report.json").exists():
        from tinyssl.export import export_run
        from tinyssl.fpga import build_run

        export_run(run)
        build_run(run, **cfg.fpga)
    if cfg.verify and quantized and not (run / "verify.json").exists():
        from tinyssl.export import export_run
        from tinyssl.verify import verify_run

        if not (run / "model.qonnx.onnx").exists():
            export_run(run)
        verify_run(run, **cfg.verify)
    return run


def _is_quantized(run: Path) -> bool:
    from tinyssl.models import parse_quant_name

    summary = json.loads((run / "summary.json").read_text())
    return parse_quant_name(str(summary.get("model", ""))) is not None


def run_sweep(config: Path, root: Path) -> list[Path]:
    """One worker's loop: claim and run every unfinished cell it can; return the runs it did."""
    cfg = SweepConfig.load(config)
    runs = [run_claimed(cfg, cell, root / "cells" / cell_id(cell, cfg.base))
            for cell in cfg.cells]
    write_results_csv(config, root)
    return [r for r in runs if r is not None]


def run_claimed(cfg: SweepConfig, cell: dict[str, Any], cell_dir: Path) -> Path | None:
    """Run the cell unless it is done or another worker holds it (then None)."""
    if cell_done(cell_dir, cfg) or not _claim(cell_dir, cfg.stale_after_s):
        return None
    try:
        return run_cell(cfg, cell, cell_dir)
    finally:
        (cell_dir / "claim").unlink(missing_ok=True)


def _worker(config: Path, root: Path, threads: int) -> int:
    import torch

    torch.set_num_threads(threads)
    return len(run_sweep(config, root))


def run_sweep_workers(config: Path, root: Path, workers: int = 1) -> None:
    """`workers` processes on this machine share the cores: each gets cores // workers torch
    threads, because oversubscribed threads make CPU training several times slower."""
    if workers <= 1:
        run_sweep(config, root)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    with mp.get_context("spawn").Pool(workers) as pool:
        pool.starmap(_worker, [(config, root, threads)] * workers)


def collect_rows(config: Path, root: Path) -> list[dict[str, Any]]:
    """One row per finished cell: its grid values, metrics, and FPGA numbers when built."""
    cfg = SweepConfig.load(config)
    rows = []
    for cell in cfg.cells:
        cid = cell_id(cell, cfg.base)
        run = _train_run(root / "cells" / cid) if (root / "cells" / cid).is_dir() else None
        if run is None or not (run / "summary.json").exists():
            continue
        summary = read_json(run / "summary.json")
        fpga = read_json(run / "fpga" / "report.json")
        verify = read_json(run / "verify.json")
        totals = fpga.get("totals", {})
        rows.append({
            "cell": cid, **cell,
            **{k: summary.get(k) for k in ("data", "method", "model", "labels", "seed",
                                           "test_acc", "test_macro_f1", "train_time_s",
                                           "time_to_target_s")},
            "lut": totals.get("LUT"), "bram_18k": totals.get("BRAM_18K"),
            "dsp": totals.get("DSP"), "est_fps": fpga.get("est_fps"),
            "verify_agree": verify.get("agree"), "quant_test_acc": verify.get("quant_test_acc"),
            "run": str(run),
        })
    return rows


def write_results_csv(config: Path, root: Path) -> Path:
    rows = collect_rows(config, root)
    out = root / "results.csv"
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out, buf.getvalue().encode())  # workers may finish at the same time
    return out
