"""Reading Label Studio's JSON and JSON_MIN exports as labels-file rows.

Here in the data layer because `--labels-file` (labels_file.read_rows) reads them; writing the
tasks Label Studio imports is tinyssl/label/studio.py's job, which names the same fields.
The task's own `file` or `index` field names the image, the `label` choice its class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinyssl.data.types import DataError

CHOICES = "label"  # the <Choices> name: the export's column (CSV, JSON_MIN) of the class
IMAGE = "image"


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
