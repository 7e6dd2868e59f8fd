"""A trained run's guess of each image on the labelling page (pre-selected; Enter accepts it)."""

from __future__ import annotations

from pathlib import Path

from tinyssl.data.types import DataBundle, DataError


def classifier_run(run: Path) -> Path:
    """RUN itself, or a fit directory's teacher (the model whose guesses are best)."""
    from tinyssl.select.embed import run_is_classifier

    if not (run / "config.yaml").is_file() and (run / "teacher" / "config.yaml").is_file():
        run = run / "teacher"
    if not (run / "config.yaml").is_file():
        raise DataError(f"{run} is not a run directory (no config.yaml).")
    if not run_is_classifier(run):
        raise DataError(f"{run} trained without labels; its guesses need a classifier run.")
    return run


def guesses(run: Path, picks: DataBundle, device: str) -> list[str | None]:
    """RUN's most likely class of each image of `picks.train`."""
    from tinyssl.select.embed import run_features
    from tinyssl.train.device import pick_device

    _, probs = run_features(run, picks, pick_device(device), with_probs=True)
    assert probs is not None
    if probs.shape[1] != picks.num_classes:
        raise DataError(f"{run} tells {probs.shape[1]} classes apart; {picks.name} has "
                        f"{picks.num_classes}.")
    return [picks.classes[int(k)] for k in probs.argmax(axis=1)]
