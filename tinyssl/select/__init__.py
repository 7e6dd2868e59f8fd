"""Which images should be labelled: `tinyssl select` and the simulated labelling loop.

    features (embed.py) → rule (rules.py) → picks → CSV + contact sheet (sheet.py)

Training uses a selection two ways: `--labels-file CSV` (the list a person labelled), or
`selection: typiclust` in the config, which picks the labelled images inside the run (the
oracle reveals their labels: the simulated loop a sweep grids over).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyssl.config import TrainConfig
from tinyssl.data.types import DataBundle, DataError, ImageSet, Split
from tinyssl.select.rules import COLD_RULES, NEXT_RULES, RULES, Picks, select

FEATURES = ("simclr", "pixels")  # or a run directory

__all__ = ["COLD_RULES", "FEATURES", "NEXT_RULES", "RULES", "Picks", "budget_of",
           "config_split", "pool_of", "select", "selection_split", "train_features"]


def pool_of(bundle: DataBundle) -> DataBundle:
    """The bundle with the source's unlabelled images appended to `train` (label -1): every
    image a person could be asked to label, in the order the trainer's pool uses."""
    if bundle.unlabeled is None or not len(bundle.unlabeled):
        return bundle
    t, u = bundle.train, bundle.unlabeled
    names = None
    if t.names is not None and u.names is not None:
        names = np.concatenate([t.names, u.names])
    pool = ImageSet(np.concatenate([t.x, u.x]),
                    np.concatenate([t.y, np.full(len(u), -1, dtype=np.int64)]), names)
    return DataBundle(bundle.name, bundle.classes, pool, bundle.test)


def budget_of(labels: int | None, labels_per_class: int | None, num_classes: int) -> int:
    """Total images to select: `labels`, or `labels_per_class` × classes."""
    if (labels is None) == (labels_per_class is None):
        raise DataError("a selection needs exactly one of labels (total) or labels_per_class.")
    return labels if labels is not None else labels_per_class * num_classes  # type: ignore[operator]


def train_features(features: str, bundle: DataBundle, *, data: str, image_size: int | None,
                   resize: str, model: str, steps: int, seed: int,
                   cache_dir: Path | None = None, device: str = "auto",
                   progress: bool = True) -> np.ndarray:
    """Features of every image of `bundle.train` from `features`: "pixels", "simclr" (trained
    on the spot on the source's whole pool, cached), or a run directory whose encoder to
    use. Leaves the global random state as it found it, so a run's own initialisation does
    not depend on how it selected. SimCLR encoders live under `cache_dir` (default
    ~/.cache/tinyssl) in `encoders/`."""
    from tinyssl.data.cache import tinyssl_home
    from tinyssl.select.embed import pixel_features, run_features, simclr_encoder
    from tinyssl.train.device import pick_device
    from tinyssl.train.setup import rng_state, set_rng_state

    if features == "pixels":
        return pixel_features(bundle.train.x, seed)
    state = rng_state()
    try:
        if features == "simclr":
            from tinyssl.models import family_of

            run = simclr_encoder(bundle, data, image_size, resize, f"{family_of(model)}-float",
                                 steps, seed, (cache_dir or tinyssl_home()) / "encoders",
                                 device, progress)
        else:
            run = Path(features)
        return run_features(run, bundle, pick_device(device))[0]
    finally:
        set_rng_state(state)


def config_split(cfg: TrainConfig, bundle: DataBundle, cache: Path | None) -> Split:
    """A training run's split when its config names a selection rule (the trainer's
    `split_rule`): features of the whole pool, as `tinyssl select` computes them, then the
    rule's picks of the first round's budget."""
    if cfg.selection == "uniform":  # a uniform draw looks at no features
        features = np.zeros((len(bundle.train), 0), np.float32)
    else:  # the whole pool's (one cached encoder)
        features = train_features(
            cfg.selection_features, pool_of(bundle), data=cfg.data,
            image_size=cfg.image_size, resize=cfg.resize, model=cfg.model,
            steps=cfg.selection_steps, seed=cfg.seed, cache_dir=cache, device=cfg.device,
            progress=cfg.progress)[:len(bundle.train)]
    budget = budget_of(cfg.labels, cfg.labels_per_class, bundle.num_classes)
    if cfg.selection_rounds > 1:  # the first round now, the others during training
        from tinyssl.select.rounds import round_sizes

        budget = round_sizes(budget, cfg.selection_rounds)[0]
    return selection_split(bundle, cfg.selection, budget, features, cfg.val_per_class,
                           cfg.seed)


def selection_split(bundle: DataBundle, rule: str, budget: int, features: np.ndarray,
                    val_per_class: int, seed: int) -> Split:
    """The simulated loop's split: validation drawn first (seeded, per class), then `budget`
    labelled images picked by `rule` from the rest; everything else is unlabelled."""
    from tinyssl.data.splits import draw_validation, split_around

    val = draw_validation(bundle.train.y, bundle.classes, val_per_class, seed)
    pool = np.setdiff1d(np.arange(len(bundle.train)), val)
    picks = select(rule, features[pool], budget, seed=seed, num_classes=bundle.num_classes)
    return split_around(len(bundle.train), pool[picks.index], val, rule)
