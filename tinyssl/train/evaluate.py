"""Evaluation: batched prediction on device-resident images and scikit-learn metrics."""

from __future__ import annotations

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
def encoder_features(encoder: nn.Module, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Features of uint8 NCHW images (on the encoder's device), in eval mode."""
    was_training = encoder.training
    encoder.eval()
    out = [encoder(x[i:i + batch_size].float().div_(255.0)).float().cpu()
           for i in range(0, len(x), batch_size)]
    encoder.train(was_training)
    return torch.cat(out).numpy()


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


def agreement(net: nn.Module, reference: nn.Module, x: torch.Tensor) -> float:
    """How often `net` predicts the class `reference` predicts on images `x` (no labels)."""
    return (predict_probs(net, x).argmax(1) == predict_probs(reference, x).argmax(1)
            ).float().mean().item()


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
