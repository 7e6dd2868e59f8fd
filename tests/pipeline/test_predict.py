"""`tinyssl predict`: new images (files, folders of any layout, archives) through the
exported network agree with the trained network's own predictions on the same pixels, for
every engine; bad input gives one clear line."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner
from fpga_fixtures import built_run
from PIL import Image

from tinyssl.cli import main
from tinyssl.models import load_net


def _write_images(run: Path, root: Path) -> dict[str, np.ndarray]:
    """The run's test images as PNGs: nested folders, a zip, and one corrupt file."""
    x = np.load(run / "data.npz")["x_test"][:18]
    files: dict[str, np.ndarray] = {}
    for i, img in enumerate(x[:12]):
        path = root / "folder" / f"batch{i % 3}" / f"img{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[..., 0]).save(path)
        files[str(path)] = img
    (root / "folder" / "broken.png").write_bytes(b"not a png")
    with zipfile.ZipFile(root / "more.zip", "w") as zf:
        for i, img in enumerate(x[12:]):
            buf = io.BytesIO()
            Image.fromarray(img[..., 0]).save(buf, format="PNG")
            zf.writestr(f"scans/{i}.png", buf.getvalue())
            files[f"{root / 'more.zip'}:scans/{i}.png"] = img
    return files


def _predict(run: Path, tmp_path: Path, *args: str) -> tuple[dict[str, list[str]], str]:
    out = tmp_path / "pred.csv"
    result = CliRunner().invoke(main, ["predict", str(run), f"folder:{tmp_path / 'folder'}",
                                       str(tmp_path / "more.zip"), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    return {r["file"]: r for r in rows}, result.output


def test_predict_agrees_with_the_network_for_every_engine(tmp_path: Path) -> None:
    run = built_run("tiny-w2a2")
    files = _write_images(run, tmp_path)
    net, _ = load_net(run)
    with torch.no_grad():
        logits = net(torch.from_numpy(np.stack(list(files.values()))).permute(0, 3, 1, 2) / 255)
    expected = dict(zip(files, logits.argmax(1).tolist(), strict=True))
    for engine in ("onnxruntime", "brevitas", "finn"):
        rows, output = _predict(run, tmp_path, "--engine", engine, "--top-k", "2")
        assert set(rows) == set(files)  # the corrupt file is skipped and counted
        assert "18 image(s) classified" in output and "1 unreadable file(s) skipped" in output
        assert {f: int(r["predicted"]) for f, r in rows.items()} == expected, engine
        for r in rows.values():
            top = r["top_2"].split("; ")
            assert len(top) == 2 and top[0].startswith(r["predicted"] + ":")
            assert 0.0 < float(r["probability"]) <= 1.0


def test_predict_resizes_and_converts_colour_images(tmp_path: Path) -> None:
    run = built_run("tiny-w2a2")  # 16×16 grey
    Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "photo.jpg")
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(main, ["predict", str(run), str(tmp_path / "photo.jpg"),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 2


def test_predict_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    run = built_run("tiny-w2a2")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    for args, message in ([str(tmp_path / "missing")], "does not exist"), \
            ([str(tmp_path / "notes.txt")], "not an image file"), \
            ([str(tmp_path / "empty")], "no image files found"), \
            ([str(tmp_path / "empty"), "--engine", "tensorrt"], "Invalid value for '--engine'"):
        result = CliRunner().invoke(main, ["predict", str(run), *args])
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
