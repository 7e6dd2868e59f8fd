"""Evaluation: batched prediction on device-resident images and scikit-learn metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from torch import nn

from tinyssl.train.device import pick_device


@torch.no_grad()
def predict_probs(net: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Softmax probabilities for uint8 NCHW images (on the net's device), in eval mode."""
    was_training = net.training
    net.eval()
    out = [net(x[i:i + batch_size].float().div_(255.0)).float().softmax(1)
           for i in range(0, len(x), batch_size)]
    net.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def recalibrate_bn(net: nn.Module, x: torch.Tensor, batch_size: int = 256) -> None:
    """Re-estimate BatchNorm statistics on training images `x` (uint8 NCHW; no labels used).

    Low-bit weights oscillate around their rounding thresholds, so running statistics that
    were averaged over past steps describe networks that no longer exist (Nagel et al. 2022,
    "Overcoming oscillations in quantization-aware training"); the EMA network's averaged
    statistics never matched its own quantized weights. Before this, validation accuracy of
    tiny-w2a2 on mnist5k jumped between 26 % and 82 % from one check to the next at almost
    zero learning rate. torch's update_bn does the re-estimation (cumulative average).
    """
    from torch.optim.swa_utils import update_bn

    batches = [x[i:i + batch_size].float().div_(255.0) for i in range(0, len(x), batch_size)]
    was_training = net.training
    update_bn(batches, net)
    net.train(was_training)


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    if len(y) == 0:
        return float("nan")
    return (predict_probs(net, x).argmax(1) == y).float().mean().item()


def classification_metrics(y: np.ndarray, pred: np.ndarray, classes: list[str]
                           ) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/support and the confusion matrix."""
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {c: {"precision": float(p), "recall": float(r), "f1": float(f),
                          "support": int(s)}
                      for c, p, r, f, s in zip(classes, precision, recall, f1, support,
                                               strict=True)},
        "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
    }


def confusion_png(cm: list[list[int]], classes: list[str], title: str, out: Path) -> Path:
    from tinyssl.report.plots import heatmap

    return heatmap(np.asarray(cm, dtype=float), classes, classes, title, out,
                   xlabel="predicted", ylabel="true")


def evaluate_run(run: Path, data: str | None = None, device: str = "auto") -> dict[str, Any]:
    """Test metrics of a run's best (else last) checkpoint, written to RUN/eval[-SOURCE].json
    with a confusion-matrix PNG beside it. `data` evaluates on another source's test set
    (it must have the same classes)."""
    import json

    import yaml

    from tinyssl.data import load_dataset
    from tinyssl.data.stream import images_to_device
    from tinyssl.data.types import DataError
    from tinyssl.runs import atomic_write_bytes, load_net

    run = Path(run)
    if not (run / "config.yaml").is_file():
        raise ValueError(f"{run} is not a training run directory (no config.yaml).")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    net, ckpt = load_net(run)
    spec = ckpt["model_spec"]
    source = data or cfg["data"]
    bundle = load_dataset(source, image_size=spec["image_size"],
                          cache_dir=Path(cfg["cache_dir"]) if cfg.get("cache_dir") else None,
                          resize=cfg.get("resize", "squash"))
    if list(bundle.classes) != list(ckpt["classes"]):
        raise DataError(f"{source} has classes {bundle.classes}, but the run was trained on "
                        f"{ckpt['classes']}.")
    if bundle.image_shape[2] != spec["in_channels"]:
        raise DataError(f"{source} has {bundle.image_shape[2]} channels; the model takes "
                        f"{spec['in_channels']}.")
    dev = pick_device(device)
    x = images_to_device(bundle.test.x, dev)
    pred = predict_probs(net.to(dev), x).argmax(1).cpu().numpy()
    classes = list(bundle.classes)
    report = classification_metrics(bundle.test.y, pred, classes)
    stem = "eval" if data is None else "eval-" + "".join(
        c if c.isalnum() else "_" for c in source)[:60]
    png = confusion_png(report["confusion_matrix"], classes,
                        f"{run.name} on {source} ({100 * report['accuracy']:.1f}%)",
                        run / f"{stem}-confusion.png")
    report.update(images=len(pred), data=source, checkpoint_step=ckpt.get("step"))
    atomic_write_bytes(run / f"{stem}.json", json.dumps(report, indent=2).encode())
    return {**report, "json": run / f"{stem}.json", "png": png}
