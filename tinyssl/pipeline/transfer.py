"""The transfer study: pre-train on each source × fine-tune on each target with few labels.

Does self-supervised pre-training on unlabelled images (same domain or another) buy accuracy
when labels are few? Each source is pre-trained once (a pretext run) and reused for every
target; "none" (a null source) is random initialisation. Each (source, target, seed) cell
fine-tunes with `finetune` settings from that encoder and records the test accuracy. With
`probe: true` the frozen encoders also get a linear probe and kNN on each target.

Images of all sources must share size and channels, so every source is converted once, in
`prepare_source`: resized by the data layer, converted to `channels` (grey → RGB repeats
the plane, RGB → grey takes ITU-R 601 luma), optionally subsampled, and stored as an npz
file in the study directory that all runs then read (`npz:PATH`).

Outputs in the study directory: transfer_matrix.{csv,md,png} (rows = pre-training source,
columns = target; CSV values are fractions), probe_matrix.* when probing, and state.json,
which makes the study resumable: finished pre-training runs and cells are skipped.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyssl.config import read_options
from tinyssl.data.images import convert_channels
from tinyssl.runs import atomic_write_bytes


@dataclass
class TransferConfig:
    """One study. `pretrain` / `finetune` are TrainConfig fields for the two kinds of run."""

    name: str
    sources: dict[str, str | None]
    targets: dict[str, str]
    image_size: int = 32
    channels: int = 3
    model: str = "tiny-w2a2"
    width_mult: float = 1.0
    max_train_images: int | None = None
    max_test_images: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    pretrain: dict[str, Any] = field(default_factory=dict)
    finetune: dict[str, Any] = field(default_factory=dict)
    probe: bool = False
    probe_k: int = 20

    @classmethod
    def load(cls, path: Path) -> TransferConfig:
        raw = read_options(path, {}, sorted(cls.__dataclass_fields__), "transfer")
        missing = {"name", "sources", "targets"} - set(raw)
        if missing:
            raise ValueError(f"{path} must set {', '.join(sorted(missing))}.")
        cfg = cls(**raw)
        if cfg.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3 (got {cfg.channels}).")
        if not cfg.sources or not cfg.targets or not cfg.seeds:
            raise ValueError("a transfer study needs at least one source, target and seed.")
        for key in ("model", "width_mult", "image_size", "data", "init"):
            if key in cfg.pretrain or key in cfg.finetune:
                raise ValueError(f"set {key} at the top level of {path} (shared by all runs), "
                                 "not inside pretrain/finetune.")
        return cfg


def check_transfer(cfg: TransferConfig) -> None:
    """Every source and target loads, every target has the classes and labels the fine-tuning
    asks for, and the pretrain/finetune configs are valid — before the study directory
    exists or a cell trains (a missing last source used to be found after the first cells)."""
    from tinyssl.config import load_config
    from tinyssl.data import load_dataset, make_split, require_classes
    from tinyssl.train.pretext import pretrain_config

    for name in ("max_train_images", "max_test_images", "probe_k", "image_size"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1 (got {value}).")
    shared = {"model": cfg.model, "width_mult": cfg.width_mult, "image_size": cfg.image_size}
    for role, specs in (("source", cfg.sources), ("target", cfg.targets)):
        for name, spec in specs.items():
            if spec is None:
                continue
            try:
                bundle = load_dataset(spec, image_size=cfg.image_size)
                if role == "source":
                    pretrain_config(None, {**cfg.pretrain, **shared, "data": spec})
                    continue
                require_classes(bundle)
                ft = load_config(None, {**cfg.finetune, **shared, "data": spec,
                                        "init": "source run"})
                make_split(bundle, bundle.num_classes, labels=ft.labels,
                           labels_per_class=ft.labels_per_class, val_per_class=ft.val_per_class,
                           seed=cfg.seeds[0])
            except ValueError as e:
                raise ValueError(f"transfer {role} {name} ({spec}): {e}") from None


def _subsample(n: int, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def prepare_source(source: str, cfg: TransferConfig, out: Path) -> str:
    """Convert one source to the study's image size/channels once → `npz:PATH` for runs."""
    from tinyssl.data import load_dataset

    if out.is_file():
        return f"npz:{out.resolve()}"
    bundle = load_dataset(source, image_size=cfg.image_size)
    train = _subsample(len(bundle.train), cfg.max_train_images, 0)
    test = _subsample(len(bundle.test), cfg.max_test_images, 1)
    arrays = {"x_train": convert_channels(np.asarray(bundle.train.x[train]), cfg.channels),
              "y_train": bundle.train.y[train].astype(np.int64),
              "x_test": convert_channels(np.asarray(bundle.test.x[test]), cfg.channels),
              "y_test": bundle.test.y[test].astype(np.int64),
              "class_names": np.asarray(bundle.classes)}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(out, buf.getvalue())
    return f"npz:{out.resolve()}"


class Study:
    """State of one study directory; every finished piece is recorded in state.json."""

    def __init__(self, cfg: TransferConfig, root: Path) -> None:
        self.cfg = cfg
        self.dir = Path(root) / cfg.name
        self.dir.mkdir(parents=True, exist_ok=True)
        state_file = self.dir / "state.json"
        self.state: dict[str, Any] = (json.loads(state_file.read_text()) if state_file.is_file()
                                      else {"data": {}, "pretrain": {}, "cells": {}, "probe": {}})

    def save(self) -> None:
        atomic_write_bytes(self.dir / "state.json", json.dumps(self.state, indent=2).encode())

    def data(self, key: str, source: str) -> str:
        if key not in self.state["data"]:
            self.state["data"][key] = prepare_source(source, self.cfg,
                                                     self.dir / "data" / f"{key}.npz")
            self.save()
        return self.state["data"][key]

    def shared(self) -> dict[str, Any]:
        """Settings of every run. No image_size: the prepared npz files already have it, and
        loading them at their own size skips the data layer's resize cache."""
        return {"model": self.cfg.model, "width_mult": self.cfg.width_mult, "progress": False}

    def pretrained(self, source: str, seed: int) -> str | None:
        """The run directory pre-trained on `source` (None for random init), once per seed."""
        from tinyssl.pipeline import run_training
        from tinyssl.train.pretext import pretrain_config

        spec = self.cfg.sources[source]
        if spec is None:
            return None
        key = f"{source}|s{seed}"
        done = self.state["pretrain"].get(key)
        if done and (Path(done) / "summary.json").is_file():
            return done
        overrides = {**self.cfg.pretrain, **self.shared(), "data": self.data(source, spec),
                     "seed": seed, "name": f"pretrain-{source}-s{seed}"}
        run = run_training(pretrain_config(None, overrides), self.dir / "pretrain")
        self.state["pretrain"][key] = str(run)
        self.save()
        return str(run)

    def finetune(self, source: str, target: str, seed: int, init: str | None) -> float:
        from tinyssl.config import load_config
        from tinyssl.pipeline import run_training

        key = f"{source}|{target}|s{seed}"
        done = self.state["cells"].get(key)
        if done:
            return done["test_acc"]
        overrides = {**self.cfg.finetune, **self.shared(),
                     "data": self.data(target, self.cfg.targets[target]), "seed": seed,
                     "init": init, "name": f"{source}-to-{target}-s{seed}"}
        if init is None:
            overrides["freeze_encoder"] = False  # nothing to freeze: a random encoder
        run = run_training(load_config(None, overrides), self.dir / "finetune")
        acc = json.loads((run / "summary.json").read_text())["test_acc"]
        self.state["cells"][key] = {"run": str(run), "test_acc": acc}
        self.save()
        return acc

    def probe(self, source: str, target: str, seed: int, init: str | None) -> dict[str, float]:
        """Linear probe + kNN of the frozen encoder (random init: BatchNorm calibrated)."""
        import torch

        from tinyssl.data import load_dataset, make_split
        from tinyssl.data.stream import images_to_device
        from tinyssl.models import ModelSpec, load_net
        from tinyssl.pipeline.probe import calibrate_batchnorm, probe_encoder

        key = f"{source}|{target}|s{seed}"
        if key in self.state["probe"]:
            return self.state["probe"][key]
        bundle = load_dataset(self.data(target, self.cfg.targets[target]))
        ft = self.cfg.finetune
        split = make_split(bundle, bundle.num_classes, labels=ft.get("labels"),
                           labels_per_class=ft.get("labels_per_class"), val_per_class=0,
                           seed=seed)
        if init is None:
            torch.manual_seed(seed)
            net = ModelSpec(self.cfg.model, self.cfg.channels, self.cfg.image_size,
                            bundle.num_classes, self.cfg.width_mult).build()
            calibrate_batchnorm(net.encoder, images_to_device(bundle.train.x, "cpu"))
        else:
            net, _ = load_net(Path(init))
        result = probe_encoder(net.encoder, bundle, split.labeled, self.cfg.probe_k)
        self.state["probe"][key] = {k: result[k] for k in ("linear_acc", "knn_acc")}
        self.save()
        return self.state["probe"][key]

    def matrix(self, table: str, value: str) -> np.ndarray:
        """Mean over seeds of `value` per (source, target); NaN where nothing is done yet."""
        out = np.full((len(self.cfg.sources), len(self.cfg.targets)), np.nan)
        for i, s in enumerate(self.cfg.sources):
            for j, t in enumerate(self.cfg.targets):
                got = [self.state[table][f"{s}|{t}|s{seed}"][value] for seed in self.cfg.seeds
                       if f"{s}|{t}|s{seed}" in self.state[table]]
                got = [g for g in got if g is not None]
                if got:
                    out[i, j] = float(np.mean(got))
        return out

    def write_matrix(self, matrix: np.ndarray, stem: str, title: str) -> dict[str, Path]:
        from tinyssl.report.plots import heatmap

        rows, cols = list(self.cfg.sources), list(self.cfg.targets)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["pretrained_on", *cols])
        for name, row in zip(rows, matrix, strict=True):
            w.writerow([name, *("" if np.isnan(v) else f"{v:.4f}" for v in row)])
        md = [f"| pre-trained on \\ fine-tuned on | {' | '.join(cols)} |",
              "|---" * (len(cols) + 1) + "|"]
        md += [f"| {name} | " + " | ".join("–" if np.isnan(v) else f"{100 * v:.1f}"
                                             for v in row) + " |"
               for name, row in zip(rows, matrix, strict=True)]
        paths = {"csv": self.dir / f"{stem}.csv", "md": self.dir / f"{stem}.md"}
        atomic_write_bytes(paths["csv"], buf.getvalue().encode())
        atomic_write_bytes(paths["md"], (f"{title} (%)\n\n" + "\n".join(md) + "\n").encode())
        paths["png"] = heatmap(100 * matrix, rows, cols, f"{title} (%)",
                               self.dir / f"{stem}.png", xlabel="target",
                               ylabel="pre-trained on", fmt="{:.1f}")
        return paths


def run_transfer(config: Path, root: Path = Path("runs")) -> dict[str, Path]:
    """Run (or continue) the study in `root/<name>/`; returns the written matrix files."""
    cfg = TransferConfig.load(config)
    check_transfer(cfg)
    study = Study(cfg, root)
    for seed in cfg.seeds:
        for source in cfg.sources:
            init = study.pretrained(source, seed)
            for target in cfg.targets:
                study.finetune(source, target, seed, init)
                if cfg.probe:
                    study.probe(source, target, seed, init)
    labels = cfg.finetune.get("labels") or f"{cfg.finetune.get('labels_per_class')}/class"
    paths = study.write_matrix(study.matrix("cells", "test_acc"), "transfer_matrix",
                               f"Fine-tuned test accuracy, {labels} labels")
    if cfg.probe:
        for value in ("linear_acc", "knn_acc"):
            stem = f"probe_{value.removesuffix('_acc')}_matrix"
            files = study.write_matrix(study.matrix("probe", value), stem,
                                       f"Frozen-encoder {value.removesuffix('_acc')} probe, "
                                       f"{labels} labels")
            paths.update({f"{stem}.{k}": v for k, v in files.items()})
    return paths
