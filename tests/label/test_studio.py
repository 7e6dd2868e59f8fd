"""The Label Studio round trip. The exports in tests/fixtures/label-studio/ are real: made by
Label Studio 1.23.2 (scripts/label_studio_fixtures.py: a project with the config `tinyssl
select --format label-studio` wrote, its tasks and a trained run's predictions imported,
every task annotated through the API, then exported as JSON, JSON_MIN and CSV)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tinyssl.cli import main
from tinyssl.data import load_dataset
from tinyssl.data.labels_file import read_labels_file
from tinyssl.data.types import DataError
from tinyssl.label.studio import write_tasks
from tinyssl.select.rules import Picks

FIXTURES = Path(__file__).parents[1] / "fixtures" / "label-studio"
PICKED = [1018, 612, 553, 15, 490, 1196]  # selection.csv's index column
ANSWERED = [5, 1, 9, 2, 6, 2]  # what the annotator chose in Label Studio


def test_tasks_config_and_images_for_label_studio(tmp_path: Path) -> None:
    bundle = load_dataset("digits")
    picks = Picks(np.array(PICKED[:3]), np.zeros(3, int), np.ones(3))
    probs = np.eye(10)[[4, 7, 7]] * 0.8 + 0.02
    tasks_path = write_tasks(bundle, picks, tmp_path / "sel.csv", probs, model_version="run1")
    assert tasks_path == tmp_path / "sel.label-studio.json"
    tasks = json.loads(tasks_path.read_text())
    assert [t["data"]["index"] for t in tasks] == PICKED[:3]
    for t, i in zip(tasks, PICKED, strict=False):
        url = t["data"]["image"]
        assert url.startswith("/data/local-files/?d=sel-images/")
        shown = np.asarray(Image.open(tmp_path / url.split("?d=")[1]))
        assert (shown == bundle.train.x[i][..., 0]).all()
    guesses = [t["predictions"][0]["result"][0]["value"]["choices"] for t in tasks]
    assert guesses == [["4"], ["7"], ["7"]]
    assert tasks[0]["predictions"][0]["model_version"] == "run1"
    view = ET.parse(tmp_path / "sel.label-studio.xml").getroot()
    choices = view.find("Choices")
    assert choices.get("name") == "label" and choices.get("toName") == "image"
    assert [c.get("value") for c in choices] == bundle.classes
    # the checked-in tasks are the ones Label Studio imported for the fixtures
    assert [t["data"]["index"] for t in json.loads(
        (FIXTURES / "selection.label-studio.json").read_text())] == PICKED


@pytest.mark.parametrize("export", ["export.json", "export-min.json", "export.csv"])
def test_label_studio_exports_are_labels_files(export: str) -> None:
    idx, labels = read_labels_file(FIXTURES / export, load_dataset("digits"))
    assert idx.tolist() == PICKED
    assert labels.tolist() == ANSWERED


def test_train_takes_a_label_studio_export(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["train", "--data", "digits", "--labels-file",
                                    str(FIXTURES / "export-min.json"), "--val-per-class", "0",
                                    "--steps", "1", "--no-progress", "--threads", "1",
                                    "--runs", str(tmp_path)])
    assert res.exit_code == 0, res.output
    split = np.load(next(tmp_path.iterdir()) / "split.npz")
    given = dict(zip(split["labeled"].tolist(), split["labeled_y"].tolist(), strict=True))
    assert given == dict(zip(PICKED, ANSWERED, strict=True))


def test_exports_for_other_images_are_one_sentence(tmp_path: Path) -> None:
    bundle = load_dataset("digits")
    tasks = json.loads((FIXTURES / "export.json").read_text())
    for t in tasks:
        del t["data"]["index"]  # another project's tasks: nothing names a digits image
    other = tmp_path / "other.json"
    other.write_text(json.dumps(tasks))
    with pytest.raises(DataError, match="a Label Studio export for other images"):
        read_labels_file(other, bundle)
    rows = json.loads((FIXTURES / "export-min.json").read_text())
    rows[0]["index"] = 99_999
    (tmp_path / "far.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match="index 99999 is outside the training set"):
        read_labels_file(tmp_path / "far.json", bundle)
    csv_text = (FIXTURES / "export.csv").read_text().replace("label", "sentiment", 1)
    (tmp_path / "other.csv").write_text(csv_text)
    with pytest.raises(DataError, match="Label Studio CSV export with no 'label' column"):
        read_labels_file(tmp_path / "other.csv", bundle)


def test_select_writes_label_studio_tasks(tmp_path: Path) -> None:
    out = tmp_path / "sel.csv"
    res = CliRunner().invoke(main, ["select", "digits", "--budget", "4", "--features", "pixels",
                                    "--format", "label-studio", "--out", str(out)])
    assert res.exit_code == 0, res.output
    tasks = json.loads((tmp_path / "sel.label-studio.json").read_text())
    listed = [int(line.split(",")[1]) for line in out.read_text().splitlines()[1:]]
    assert [t["data"]["index"] for t in tasks] == listed
    assert not any("predictions" in t for t in tasks)  # no trained run, no guesses
    png = (tmp_path / "sel-images" / "1.png").read_bytes()
    assert Image.open(io.BytesIO(png)).size == (16, 16)  # as select loads digits
    assert "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT" in res.output
