"""Classify new images with a trained run: the user's files, folders or archives → the
exported network → one CSV row per image.

The images are decoded and resized as training decoded its data, so a prediction here is
the prediction the run's evaluation would make on the same pixels: folder sources were
resized per image by Pillow when decoded (`--image-size`), array sources (npz, CIFAR-10,
digits) by torch over whole arrays. The default engine is onnxruntime on the exported QCDQ
graph (what a CPU deployment runs, bit-exact with Brevitas: `tinyssl verify`); `brevitas`
and `finn` (FINN's Python execution of the built accelerator graph) check that they agree
on the user's own images.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tinyssl.data.folder import ARCHIVE_SUFFIXES, tree_members
from tinyssl.data.images import (
    IMAGE_EXTENSIONS,
    Encoded,
    convert_channels,
    decode,
    is_image_name,
    resize_array,
)
from tinyssl.data.types import DataError

ENGINES = ("onnxruntime", "brevitas", "finn")


@dataclass
class Predictions:
    files: list[str]
    probs: np.ndarray  # N × classes, softmax of the logits
    classes: list[str]
    skipped: list[str]  # unreadable files

    def counts(self) -> dict[str, int]:
        found = np.bincount(self.probs.argmax(1), minlength=len(self.classes))
        return {name: int(n) for name, n in zip(self.classes, found, strict=True)}


def image_files(inputs: list[str]) -> Iterator[tuple[str, Encoded]]:
    """(name shown in the CSV, file path or bytes) for every image among the inputs: image
    files, directories of any layout (searched recursively) and .zip/.tar(.gz) archives."""
    for item in inputs:
        path = Path(item.removeprefix("folder:"))
        if not path.exists():
            raise DataError(f"{path} does not exist.")
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file() and is_image_name(f.relative_to(path).as_posix()):
                    yield str(f), f
        elif path.name.lower().endswith(ARCHIVE_SUFFIXES):
            for name, data in tree_members(path):
                if is_image_name(name):
                    yield f"{path}:{name}", data
        elif is_image_name(path.name):
            yield str(path), path
        else:
            raise DataError(f"{path}: not an image file ({', '.join(sorted(IMAGE_EXTENSIONS))}),"
                            f" a directory or a {'/'.join(ARCHIVE_SUFFIXES)} archive.")


def load_images(files: list[tuple[str, Encoded]], image_size: int, channels: int,
                pillow_resize: bool, resize: str = "squash",
                progress: Callable[[int], None] | None = None
                ) -> tuple[np.ndarray, list[str], list[str]]:
    """Decode → N×H×W×C uint8 at the model's size and channels; (images, names, skipped)."""
    images, names, skipped = [], [], []
    for i, (name, src) in enumerate(files):
        x = decode(src, image_size if pillow_resize else None, resize)
        if x is None:
            skipped.append(name)
        else:
            if x.shape[:2] != (image_size, image_size):  # array sources: torch, as training
                x = resize_array(x[None], image_size, resize=resize)[0]
            images.append(convert_channels(x, channels))
            names.append(name)
        if progress is not None:
            progress(i + 1)
    if not images:
        raise DataError("none of the given files is a readable image"
                        + (f" ({len(skipped)} unreadable)." if skipped else "."))
    return np.stack(images), names, skipped


def engine_stage(run: Path, engine: str) -> Callable[[np.ndarray], np.ndarray]:
    """raw pixels N×C×H×W float → logits, by the chosen engine (verify's stages)."""
    from tinyssl.verify import stages

    if engine == "brevitas":
        from tinyssl.models import load_net

        return stages.brevitas_stage(load_net(run)[0])
    if engine == "onnxruntime":
        from tinyssl.export import ensure_exported

        return stages.onnxruntime_stage(ensure_exported(run)["qcdq"])
    from tinyssl.verify.chain import finn_accelerator_graph  # engine == "finn"

    return stages.finn_stage(finn_accelerator_graph(run))


def predict_files(run: Path, inputs: list[str], engine: str = "onnxruntime",
                  batch: int = 1024, progress: Callable[[int, int], None] | None = None
                  ) -> Predictions:
    """Decode every image of `inputs` as the run's training did and classify it."""
    from tinyssl.export import require_classifier
    from tinyssl.runs import find_checkpoint, load_checkpoint

    if engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}'; choose from {', '.join(ENGINES)}.")
    require_classifier(run)
    ckpt = load_checkpoint(find_checkpoint(run))
    spec, classes = ckpt["model_spec"], list(ckpt["classes"])
    cfg_path = run / "config.yaml"
    cfg = (yaml.safe_load(cfg_path.read_text()) or {}) if cfg_path.is_file() else {}
    source = str(cfg.get("data", ""))
    files = list(image_files(inputs))
    if not files:
        raise DataError(f"no image files found in {', '.join(inputs)}.")
    x, names, skipped = load_images(
        files, spec["image_size"], spec["in_channels"], pillow_resize=source.startswith("folder:"),
        resize=cfg.get("resize", "squash"),
        progress=None if progress is None else (lambda i: progress(i, len(files))))
    stage = engine_stage(run, engine)
    logits = np.concatenate([
        stage(np.ascontiguousarray(x[i:i + batch].transpose(0, 3, 1, 2), dtype=np.float32))
        for i in range(0, len(x), batch)])
    z = logits - logits.max(1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return Predictions(names, probs, classes, skipped)


def predictions_csv(pred: Predictions, top_k: int = 3) -> str:
    """file, predicted, probability, top_k ("class:prob; …")."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file", "predicted", "probability", f"top_{top_k}"])
    order = np.argsort(-pred.probs, axis=1)[:, :top_k]
    for name, p, top in zip(pred.files, pred.probs, order, strict=True):
        w.writerow([name, pred.classes[top[0]], f"{p[top[0]]:.4f}",
                    "; ".join(f"{pred.classes[c]}:{p[c]:.4f}" for c in top)])
    return buf.getvalue()


def summary(pred: Predictions) -> dict[str, Any]:
    return {"images": len(pred.files), "skipped": len(pred.skipped),
            "per_class": pred.counts(),
            "mean_probability": float(pred.probs.max(1).mean())}
