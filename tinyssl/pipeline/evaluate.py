"""`tinyssl eval`: a finished run's test metrics and confusion matrix, on its own test set
or another source's with the same classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tinyssl.report.plots import heatmap
from tinyssl.train.device import pick_device
from tinyssl.train.evaluate import classification_metrics, predict_probs


def confusion_png(cm: list[list[int]], classes: list[str], title: str, out: Path) -> Path:
    return heatmap(np.asarray(cm, dtype=float), classes, classes, title, out,
                   xlabel="predicted", ylabel="true")


def evaluate_run(run: Path, data: str | None = None, device: str = "auto") -> dict[str, Any]:
    """Test metrics of a run's best (else last) checkpoint, written to RUN/eval[-SOURCE].json
    with a confusion-matrix PNG beside it. `data` evaluates on another source's test set
    (it must have the same classes)."""
    from tinyssl.data import load_dataset
    from tinyssl.data.stream import images_to_device
    from tinyssl.data.types import DataError
    from tinyssl.export import require_classifier
    from tinyssl.models import load_net
    from tinyssl.runs import atomic_write_bytes

    run = Path(run)
    if not (run / "config.yaml").is_file():
        raise ValueError(f"{run} is not a training run directory (no config.yaml).")
    require_classifier(run)
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
