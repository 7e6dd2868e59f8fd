"""What a run starts from: its data and label split, seeds and random states, name, the
weights it is initialised with (`--init`), and the unlabelled-pool cap (`--unlabeled`)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinyssl.config import TrainConfig
from tinyssl.data.types import DataBundle, DataError, Split
from tinyssl.methods import get_method
from tinyssl.models import ModelSpec, Net
from tinyssl.runs import find_checkpoint, load_checkpoint


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def run_slug(cfg: TrainConfig) -> str:
    """`uda-mnist5k-tiny-w2a2-s0`: readable run names whatever the data source string."""
    data = Path(cfg.data.split(":", 1)[-1]).name.split(".")[0] if ":" in cfg.data else cfg.data
    slug = f"{cfg.method_label}-{data}-{cfg.model}-s{cfg.seed}"
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", slug)


def load_init(net: Net, spec: ModelSpec, run: Path, calibration: torch.Tensor) -> str:
    """Initialise `net` from another run; returns what was loaded, for the log.

    The same model (e.g. a self-supervised pretext run): its encoder. The float twin of this
    quantized model's family (`tiny-float` for `tiny-w2a2`): every layer, with weight and
    activation scales fitted to the bit widths (`float_init`), the classifier too when the
    class count matches. `calibration`: uint8 NCHW training images for that fit.
    """
    from tinyssl.models import family_of, is_float_twin, parse_quant_name
    from tinyssl.models.float_init import init_from_float_twin

    ckpt = load_checkpoint(find_checkpoint(Path(run)))
    other = ckpt["model_spec"]
    twin = (is_float_twin(other["name"]) and parse_quant_name(spec.name) is not None
            and family_of(other["name"]) == family_of(spec.name))
    for key in ("in_channels", "image_size", "width_mult") if twin else \
            ("name", "in_channels", "image_size", "width_mult"):
        if other[key] != getattr(spec, key):
            raise ValueError(f"cannot initialise {spec.name} from {run}: its {key} is "
                             f"{other[key]}, this run's is {getattr(spec, key)} (an init run "
                             f"must be the same model or the float twin of its family).")
    if not twin:
        encoder = {k.removeprefix("encoder."): v for k, v in ckpt["model"].items()
                   if k.startswith("encoder.")}
        net.encoder.load_state_dict(encoder)
        return "encoder"
    source = ModelSpec(**other).build()
    source.load_state_dict(ckpt["model"])
    source.to(calibration.device)
    _, wbits, abits = parse_quant_name(spec.name)  # type: ignore[misc]
    with_classifier = other["num_classes"] == spec.num_classes
    init_from_float_twin(net, source, wbits, abits, calibration.float().div(255.0),
                         classifier=with_classifier)
    return "float twin with fitted scales" + ("" if with_classifier else " (encoder)")


def cap_pool(pool: np.ndarray, cap: float | None, seed: int) -> np.ndarray:
    """At most `cap` unlabelled images (a count, or a fraction of the pool when < 1), drawn
    with the run's seed: the unlabelled-amount study holds the labels fixed and varies this.
    Labelled and validation images are never in `pool`, so never in the result."""
    if cap is None:
        return pool
    keep = int(round(cap * len(pool))) if cap < 1 else int(cap)
    if keep >= len(pool):
        return pool
    rng = np.random.default_rng([seed, 0x5EED])  # its own stream: the split's draws are unchanged
    return np.sort(rng.choice(pool, size=keep, replace=False))


def load_data(cfg: TrainConfig, resume: Path | None, split_rule: Any = None
              ) -> tuple[DataBundle, Split]:
    """The run's data and split: saved with the run (resume), from a labels file, picked by
    `split_rule` (the select layer's, when the config names a selection rule), or a seeded
    random draw. Labels a person gave in a labels file replace the source's labels of those
    images."""
    from tinyssl.data import load_dataset, require_classes

    cache = Path(cfg.cache_dir) if cfg.cache_dir else None
    bundle = load_dataset(cfg.data, image_size=cfg.image_size, cache_dir=cache,
                          resize=cfg.resize)
    if get_method(cfg.method).uses_labeled:
        require_classes(bundle)
    if resume is not None and (resume / "split.npz").is_file():
        split = Split.load(resume / "split.npz")
    else:
        split = _new_split(cfg, bundle, cache, split_rule)
    return split.apply_labels(bundle), split


def source_split(cfg: TrainConfig, bundle: DataBundle) -> Split:
    """The split of a run whose growth is scored by `cfg.pl_source`: the source's labelled
    images (with the labels it was given), and `val_per_class` validation images per class
    that the source neither trained nor validated on, so that its temperature and its
    accuracy gate are measured on images it has never seen. Those are extra labels, and the
    run counts them (growth's summary: labels_used)."""
    from tinyssl.data.splits import draw_validation, split_around

    source = Split.load(Path(cfg.pl_source) / "split.npz")  # type: ignore[arg-type]
    if len(source.labeled) and source.labeled.max() >= len(bundle.train):
        raise DataError(f"{cfg.pl_source} was trained on other data than {cfg.data} (its "
                        "split indexes images this training set does not have).")
    seen = np.concatenate([source.labeled, source.val])
    val = draw_validation(bundle.train.y, bundle.classes, cfg.val_per_class, cfg.seed,
                          exclude=seen)
    return split_around(len(bundle.train), source.labeled, val, "pl-source", source.labeled_y)


def _new_split(cfg: TrainConfig, bundle: DataBundle, cache: Path | None,
               split_rule: Any) -> Split:
    from tinyssl.data import make_split
    from tinyssl.data.splits import draw_validation, split_around

    if cfg.pl_source is not None:
        return source_split(cfg, bundle)
    if cfg.labels_file is not None:
        from tinyssl.data.labels_file import read_labels_file

        labeled, labels = read_labels_file(cfg.labels_file, bundle)
        val = draw_validation(bundle.train.y, bundle.classes, cfg.val_per_class, cfg.seed,
                              exclude=labeled)
        return split_around(len(bundle.train), labeled, val, "labels-file", labels)
    if cfg.selection != "random":
        if split_rule is None:
            raise ValueError(f"selection {cfg.selection} is chosen by tinyssl.pipeline."
                             "run_training (the select layer), not the bare trainer.")
        return split_rule(cfg, bundle, cache)
    return make_split(bundle, bundle.num_classes, labels=cfg.labels,
                      labels_per_class=cfg.labels_per_class, val_per_class=cfg.val_per_class,
                      seed=cfg.seed)
