"""Feature vectors of the training images, for the selection rules.

Three sources: a run's encoder (a `pretrain` run, or a trained classifier for the next
round), a SimCLR encoder trained on the spot (kept in the cache, keyed by the images' bytes
and the settings, so every later selection on the same data reuses it), or the pixels
reduced to 50 principal components (instant; enough for clean data such as digits).
The on-the-spot encoder is the float twin of the student's family: selection needs good
features, not FPGA-sized ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tinyssl.data.types import DataBundle, DataError

if TYPE_CHECKING:
    from tinyssl.models import Net

PCA_DIMS = 50


def pixel_features(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1) / 255.0
    dims = min(PCA_DIMS, *flat.shape)
    return PCA(dims, random_state=seed).fit_transform(flat).astype(np.float32)


def _encoder_key(bundle: DataBundle, model: str, steps: int, seed: int) -> str:
    h = hashlib.sha256(np.ascontiguousarray(bundle.train.x).data)
    h.update(json.dumps([model, steps, seed, list(bundle.image_shape)]).encode())
    return h.hexdigest()[:20]


def simclr_encoder(bundle: DataBundle, data: str, image_size: int | None, resize: str,
                   model: str, steps: int, seed: int, root: Path, device: str = "auto",
                   progress: bool = True) -> Path:
    """A finished SimCLR run on `bundle`'s training images under `root/<key>/`: reused when
    there, resumed when interrupted, trained otherwise."""
    from tinyssl.train import TrainingInterrupted
    from tinyssl.train.pretext import pretrain_config
    from tinyssl.train.run import run_config, train

    home = root / _encoder_key(bundle, model, steps, seed)
    runs = sorted(p for p in home.glob("*") if (p / "config.yaml").is_file()) \
        if home.is_dir() else []
    runs = [r for r in runs if _intact(r)]
    if done := [r for r in runs if (r / "summary.json").is_file()]:
        return done[-1]
    cfg = pretrain_config(None, {"data": data, "image_size": image_size, "resize": resize,
                                 "model": model, "steps": steps, "seed": seed,
                                 "device": device, "progress": progress,
                                 "name": "selection-encoder", "eval_every": steps})
    resume = runs[-1] if runs else None
    try:
        return train(run_config(cfg, resume, None), home, resume)
    except TrainingInterrupted as e:  # Ctrl-C: `select` again resumes this run, not `train`
        raise TrainingInterrupted(e.run, e.step, how=(
            f"Run the same `tinyssl select` command again: the selection encoder resumes "
            f"from there ({e.run}).")) from None


def _intact(run: Path) -> bool:
    """False (and the cached encoder removed, with a warning) when a checkpoint of this
    cached run is damaged: the cache is rebuilt rather than the user told to retrain."""
    import shutil
    import warnings

    from tinyssl.runs import checkpoint_damage

    for ckpt in sorted((run / "checkpoints").glob("*.pt")):
        if why := checkpoint_damage(ckpt):
            warnings.warn(f"the cached selection encoder {ckpt} is damaged ({why}); it is "
                          "removed and trained again.", stacklevel=3)
            shutil.rmtree(run, ignore_errors=True)
            return False
    return True


def _load_run(run: Path, bundle: DataBundle) -> tuple[Net, dict[str, Any]]:
    from tinyssl.models import load_net

    if not (Path(run) / "config.yaml").is_file():
        raise DataError(f"{run} is not a run directory (no config.yaml).")
    net, ckpt = load_net(Path(run))
    spec = ckpt["model_spec"]
    h, w, c = bundle.image_shape
    if (h, c) != (spec["image_size"], spec["in_channels"]):
        raise DataError(f"{run} takes {spec['image_size']} px images with {spec['in_channels']} "
                        f"channel(s); the data is {h} px with {c}.")
    return net, ckpt


@torch.no_grad()
def run_features(run: Path, bundle: DataBundle, device: torch.device,
                 with_probs: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Encoder features of every training image (and the classifier's probabilities when
    `with_probs`: the next-round rules need both)."""
    from tinyssl.data.stream import images_to_device
    from tinyssl.train.evaluate import encoder_features

    net, _ = _load_run(run, bundle)
    net.to(device).eval()
    x = images_to_device(bundle.train.x, device)
    features = encoder_features(net.encoder, x)
    if not with_probs:
        return features, None
    from tinyssl.train.evaluate import predict_probs

    return features, predict_probs(net, x).cpu().numpy()


def run_is_classifier(run: Path) -> bool:
    """True when RUN trained with labels (its classifier can rank images by uncertainty)."""
    import yaml

    from tinyssl.methods import get_method

    own = yaml.safe_load((Path(run) / "config.yaml").read_text()) or {}
    return get_method(own.get("method", "supervised")).uses_labeled
