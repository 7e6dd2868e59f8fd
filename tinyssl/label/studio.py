"""The Label Studio round trip: select's picks out as tasks, Label Studio's exports back in.

Out (`tinyssl select … --format label-studio`), beside `selection.csv`:

    selection-images/<rank>.png      each pick as select loaded it
    selection.label-studio.json      one task per pick: data {image, file|index, rank} and,
                                     with a trained --run, its guess as a prediction
    selection.label-studio.xml       the labelling config: <Image> + single <Choices name="label">

The image URLs are Label Studio's local-files ones (`/data/local-files/?d=selection-images/
1.png`), relative to the CSV's folder: start Label Studio with that folder as
LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT and add it as the project's local storage.

In (`--labels-file EXPORT`): Label Studio's JSON, JSON_MIN and CSV exports. The task's own
`file` or `index` field (written above) names the image, the `label` choice its class, so an
export's rows are a labels file's rows (JSON, JSON_MIN: read by tinyssl/data/label_studio.py,
in the data layer where --labels-file is read); the CSV export is one already (its
`annotation_id` column tells it apart, and then a `label` column is required).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from tinyssl.data.label_studio import CHOICES, IMAGE
from tinyssl.data.labels_file import image_keys
from tinyssl.data.types import DataBundle
from tinyssl.label.server import png
from tinyssl.runs import atomic_write_bytes
from tinyssl.select.rules import Picks


def studio_paths(csv_path: Path) -> tuple[Path, Path, Path]:
    """(tasks JSON, labelling config, image folder) written beside `csv_path`."""
    stem = csv_path.with_suffix("")
    return (stem.with_name(f"{stem.name}.label-studio.json"),
            stem.with_name(f"{stem.name}.label-studio.xml"), stem.with_name(f"{stem.name}-images"))


def labelling_config(classes: list[str]) -> str:
    choices = "\n".join(f"    <Choice value={quoteattr(c)}/>" for c in classes)
    return (f'<View>\n  <Image name="{IMAGE}" value="${IMAGE}"/>\n'
            f'  <Choices name="{CHOICES}" toName="{IMAGE}" choice="single" showInline="true">\n'
            f"{choices}\n  </Choices>\n</View>\n")


def write_tasks(bundle: DataBundle, picks: Picks, csv_path: Path,
                probs: np.ndarray | None = None, model_version: str = "tinyssl") -> Path:
    """The three outputs above for `picks`; `probs` (picks × classes) become predictions."""
    tasks_path, config_path, images = studio_paths(csv_path)
    key, keys = image_keys(bundle, picks.index)
    tasks = []
    for rank, (i, k) in enumerate(zip(picks.index, keys, strict=True), 1):
        atomic_write_bytes(images / f"{rank}.png", png(bundle.train.x[i]))
        task: dict[str, Any] = {"data": {
            IMAGE: f"/data/local-files/?d={images.name}/{rank}.png", key: k, "rank": rank}}
        if probs is not None:
            best = int(np.argmax(probs[rank - 1]))
            task["predictions"] = [{"model_version": model_version,
                                    "score": round(float(probs[rank - 1, best]), 4),
                                    "result": [{"from_name": CHOICES, "to_name": IMAGE,
                                                "type": "choices",
                                                "value": {"choices": [bundle.classes[best]]}}]}]
        tasks.append(task)
    atomic_write_bytes(config_path, labelling_config(bundle.classes).encode())
    atomic_write_bytes(tasks_path, json.dumps(tasks, indent=1).encode())
    return tasks_path
