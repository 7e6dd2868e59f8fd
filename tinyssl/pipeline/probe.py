"""The standard SSL evaluation protocols on a frozen encoder: a linear probe and kNN.

Both read encoder features once (eval mode, no augmentation) for the labelled subset and
the test set. The linear probe is scikit-learn's multinomial LogisticRegression on
standardised features: with a few hundred labels and ≤512-dim features it is convex,
deterministic and needs no learning-rate or epoch tuning, unlike a torch linear layer
trained with SGD. kNN is cosine similarity on L2-normalised features with majority votes
among the k nearest labelled images (k capped at the number of labelled images).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from tinyssl.data.types import DataBundle, DataError
from tinyssl.train.evaluate import encoder_features

if TYPE_CHECKING:
    from tinyssl.models import ModelSpec


@torch.no_grad()
def calibrate_batchnorm(encoder: nn.Module, x: torch.Tensor, batch_size: int = 256) -> None:
    """Set BatchNorm running statistics from data (cumulative average over `x`).

    A randomly initialised encoder still has BatchNorm's default statistics (mean 0, var 1),
    which saturate the quantized activations; calibrating them makes "random init" a fair
    baseline for probes."""
    norms = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    encoder.train()
    for i in range(0, len(x), batch_size):
        encoder(x[i:i + batch_size].float().div_(255.0))
    for m in norms:
        m.momentum = 0.1
    encoder.eval()


def random_encoder(spec: ModelSpec, x: torch.Tensor, seed: int = 0) -> nn.Module:
    """The honest floor of every pretext: `spec`'s encoder at a seeded random init, its
    BatchNorm statistics calibrated on images `x` (uint8 NCHW, on the device to use)."""
    torch.manual_seed(seed)
    encoder = spec.build().encoder.to(x.device)
    calibrate_batchnorm(encoder, x)
    return encoder


def linear_probe_accuracy(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray,
                          test_y: np.ndarray, c: float = 1.0) -> float:
    """Test accuracy of an L2-regularised logistic regression (inverse strength `c`)."""
    if len(np.unique(train_y)) < 2:
        raise DataError("the linear probe needs labelled images of at least two classes.")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(train_f, train_y)
    return float((model.predict(test_f) == test_y).mean())


def knn_accuracy(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray,
                 test_y: np.ndarray, k: int = 20) -> float:
    """Test accuracy of cosine k-nearest-neighbour voting (k capped at the labelled count)."""
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k}).")
    model = KNeighborsClassifier(n_neighbors=min(k, len(train_y)), metric="cosine")
    model.fit(train_f, train_y)
    return float((model.predict(test_f) == test_y).mean())


def probe_encoder(encoder: nn.Module, bundle: DataBundle, labeled: np.ndarray, k: int = 20,
                  device: torch.device | str = "cpu", c: float = 1.0) -> dict[str, Any]:
    """Linear-probe and kNN test accuracy of `encoder` with `bundle.train[labeled]` as the
    labelled set."""
    from tinyssl.data.stream import images_to_device

    device = torch.device(device)
    encoder = encoder.to(device)
    train_x = images_to_device(bundle.train.x[labeled], device)
    train_f = encoder_features(encoder, train_x)
    test_f = encoder_features(encoder, images_to_device(bundle.test.x, device))
    train_y, test_y = bundle.train.y[labeled], bundle.test.y
    return {
        "linear_acc": linear_probe_accuracy(train_f, train_y, test_f, test_y, c),
        "knn_acc": knn_accuracy(train_f, train_y, test_f, test_y, k),
        "k": min(k, len(labeled)), "labels": len(labeled), "test_images": len(test_y),
        "feature_dim": int(train_f.shape[1]),
    }


def floor_verdict(result: dict[str, Any], num_classes: int) -> str | None:
    """One sentence when a trained encoder's probes say pre-training did not pay: below
    chance, or not above the random-init floor on the same labels (`result["floor"]`).
    None when it beat the floor on both probes."""
    linear, knn, chance = result["linear_acc"], result["knn_acc"], 1 / num_classes
    floor = result.get("floor")
    if linear <= chance:
        return (f"the linear probe ({100 * linear:.1f} %) is at or below chance "
                f"({100 * chance:.1f} %): these features carry nothing the labels can use.")
    if floor is None or (linear > floor["linear_acc"] and knn > floor["knn_acc"]):
        return None
    return (f"pre-training did not beat a random encoder on these labels (linear "
            f"{100 * linear:.1f} % vs {100 * floor['linear_acc']:.1f} %, kNN "
            f"{100 * knn:.1f} % vs {100 * floor['knn_acc']:.1f} %): try the float-twin route "
            "(`tinyssl pretrain --float-twin`), more --steps or another --method "
            "(docs/self-supervised.md).")


def probe_run(run: Path, data: str, labels: int | None = None,
              labels_per_class: int | None = None, k: int = 20, seed: int = 0,
              device: str = "auto", cache_dir: Path | None = None,
              random_init: bool = False, floor: bool = True) -> dict[str, Any]:
    """Probe RUN's encoder on DATA with a seeded label budget; writes RUN/probe.json (or
    RUN/probe-<data>.json when DATA is not the run's own source). `random_init` probes
    RUN's architecture at a random init instead (`random_encoder`), → probe[-<data>]-random.json.
    With `floor` a trained encoder is also compared with that random init on the same labels
    (`floor`, `beats_floor` and `verdict` in the result): a probe number alone does not say
    whether pre-training helped, and a frozen random quantized CNN is a strong baseline."""
    import yaml

    from tinyssl.data import load_dataset, make_split
    from tinyssl.data.stream import images_to_device
    from tinyssl.models import ModelSpec, load_net
    from tinyssl.runs import atomic_write_bytes
    from tinyssl.train.device import pick_device

    run = Path(run)
    if not (run / "config.yaml").is_file():
        raise ValueError(f"{run} is not a run directory (no config.yaml).")
    if (labels is None) == (labels_per_class is None):
        raise ValueError("give exactly one of --labels or --labels-per-class.")
    net, ckpt = load_net(run)
    spec = ckpt["model_spec"]
    own_cfg = yaml.safe_load((run / "config.yaml").read_text()) or {}
    bundle = load_dataset(data, image_size=spec["image_size"], cache_dir=cache_dir,
                          resize=own_cfg.get("resize", "squash"))
    if bundle.image_shape[2] != spec["in_channels"]:
        raise DataError(f"{data} has {bundle.image_shape[2]} channel(s); the encoder of {run} "
                        f"takes {spec['in_channels']}.")
    split = make_split(bundle, bundle.num_classes, labels=labels,
                       labels_per_class=labels_per_class, val_per_class=0, seed=seed)
    dev = pick_device(device)

    def random_init_encoder() -> nn.Module:
        return random_encoder(ModelSpec(**spec), images_to_device(bundle.train.x, dev), seed)

    encoder = random_init_encoder() if random_init else net.encoder
    result = probe_encoder(encoder, bundle, split.labeled, k, dev)
    if floor and not random_init:
        rand = probe_encoder(random_init_encoder(), bundle, split.labeled, k, dev)
        result["floor"] = {key: rand[key] for key in ("linear_acc", "knn_acc")}
        result["beats_floor"] = (result["linear_acc"] > rand["linear_acc"]
                                 and result["knn_acc"] > rand["knn_acc"])
    if not random_init:
        result["verdict"] = floor_verdict(result, bundle.num_classes)
    own = own_cfg.get("data")
    result.update(data=data, seed=seed, run=str(run), step=ckpt.get("step"),
                  encoder="random init" if random_init else "trained")
    stem = ("probe" if data == own else "probe-" + "".join(
        ch if ch.isalnum() else "_" for ch in data)[:60]) + ("-random" if random_init else "")
    atomic_write_bytes(run / f"{stem}.json", json.dumps(result, indent=2).encode())
    return {**result, "json": run / f"{stem}.json"}
