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
export's rows are a labels file's rows; the CSV export is one already (its `annotation_id`
column tells it apart, and then a `label` column is required).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from tinyssl.data.labels_file import image_keys
from tinyssl.data.types import DataBundle, DataError
from tinyssl.label.server import png
from tinyssl.runs import atomic_write_bytes
from tinyssl.select.rules import Picks

CHOICES = "label"  # the <Choices> name: the export's column (CSV, JSON_MIN) of the class
IMAGE = "image"


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


def _choice(value: Any) -> str:
    """A choice as JSON_MIN writes it ("3", or {"choices": ["3"]}) → the class."""
    if isinstance(value, dict):
        value = value.get("choices", [])
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else ""
    return str(value or "")


def _annotated(task: dict[str, Any]) -> str:
    """The class of a full-JSON task's last annotation not cancelled ("" when none)."""
    for ann in reversed(task.get("annotations") or []):
        if ann.get("was_cancelled"):
            continue
        for r in ann.get("result") or []:
            if r.get("from_name") == CHOICES and r.get("type") == "choices":
                return _choice(r.get("value"))
    return ""


def read_export(path: Path) -> list[dict[str, str]]:
    """A Label Studio JSON or JSON_MIN export as labels-file rows ({file|index, label})."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot be read as a Label Studio JSON export ({e}).") from None
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, dict) for t in tasks):
        raise DataError(f"{path}: not a Label Studio export (a JSON list of tasks).")
    rows = []
    for t in tasks:
        full = isinstance(t.get("data"), dict)  # JSON: {data, annotations}; JSON_MIN: flat
        data = t["data"] if full else t
        key = next((k for k in ("file", "index") if k in data), None)
        if key is None:
            raise DataError(f"{path}: a Label Studio export for other images (its tasks have "
                            "no 'file' or 'index' field; export tasks that `tinyssl select "
                            "--format label-studio` wrote).")
        rows.append({key: str(data[key]).strip(),
                     "label": (_annotated(t) if full else _choice(t.get(CHOICES))).strip()})
    if len({next(iter(r)) for r in rows}) > 1:
        raise DataError(f"{path}: mixes tasks named by 'file' and by 'index'.")
    return rows
