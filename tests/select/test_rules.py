"""Label selection (`tinyssl select`, `--labels-file`, `selection:`): the rules pick what they
promise on hand-made features, never re-pick labelled images, are deterministic for a seed,
and the selection reaches a run's split intact; bad input is one clear line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tinyssl.cli import main
from tinyssl.config import load_config
from tinyssl.data import load_dataset
from tinyssl.data.labels_file import read_labels_file
from tinyssl.data.types import DataBundle, ImageSet, Split
from tinyssl.select import RULES, config_split, select, train_features
from tinyssl.select.sheet import CAPTION, PAD, TILE, contact_sheet, sheet_grid
from tinyssl.train.setup import load_data

COLD = ("typicover", "typiclust", "probcover", "kcenter")


def _blobs(k: int = 6, per: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k tight clusters in distinct directions (far apart in cosine distance), of unequal
    size so that "largest cluster first" has something to order."""
    rng = np.random.default_rng(seed)
    centres = np.eye(k, 16) * 10
    sizes = [per + 5 * i for i in range(k)]
    x = np.concatenate([c + rng.normal(0, 0.3, (n, 16))
                        for c, n in zip(centres, sizes, strict=True)])
    y = np.concatenate([np.full(n, i) for i, n in enumerate(sizes)])
    return x.astype(np.float32), y


@pytest.mark.parametrize("rule", COLD)
def test_cold_rules_put_one_pick_in_each_well_separated_cluster(rule: str) -> None:
    x, y = _blobs()
    picks = select(rule, x, 6, seed=0, num_classes=6)
    assert sorted(y[picks.index]) == list(range(6))


def test_typiclust_picks_the_most_typical_image_of_its_cluster() -> None:
    x, y = _blobs()
    x[0] = np.eye(6, 16)[0] * 10 + 2.0  # an outlier of cluster 0
    picks = select("typiclust", x, 6, seed=0)
    chosen = picks.index[y[picks.index] == 0][0]
    members = np.flatnonzero(y == 0)
    centre = x[members].mean(0)
    # the most typical member sits near the cluster's centre, never the outlier
    assert chosen != 0
    spread = np.linalg.norm(x[members] - centre, axis=1)
    assert np.linalg.norm(x[chosen] - centre) < np.median(spread)


def _dense_and_broad(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class 0: two tight groups of look-alikes (the densest images, as uninfected cells are
    on the malaria set); class 1: a broad cloud between them holding most of the images."""
    rng = np.random.default_rng(seed)
    e = np.eye(16) * 10
    dense = np.concatenate([e[0] + rng.normal(0, 0.2, (150, 16)),
                            e[1] + rng.normal(0, 0.2, (150, 16))])
    broad = (e[0] + e[1]) / 2 + e[2] / 2 + rng.normal(0, 1.5, (500, 16))
    return (np.concatenate([dense, broad]).astype(np.float32),
            np.concatenate([np.zeros(300, np.int64), np.ones(500, np.int64)]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typicover_covers_a_broad_class_that_typiclust_misses(seed: int) -> None:
    x, y = _dense_and_broad(seed)
    # TypiClust's density bias: both picks are look-alikes of the dense class ...
    assert set(y[select("typiclust", x, 2, seed=seed).index]) == {0}
    # ... covering the cluster mass reaches the broad class too
    assert set(y[select("typicover", x, 2, seed=seed).index]) == {0, 1}


@pytest.mark.parametrize("rule", ["typicover", "typiclust", "kcenter"])
def test_next_picks_go_to_clusters_without_labels(rule: str) -> None:
    x, y = _blobs()
    labeled = np.asarray([np.flatnonzero(y == c)[0] for c in range(3)])
    picks = select(rule, x, 3, labeled=labeled, seed=0)
    assert sorted(y[picks.index]) == [3, 4, 5]


@pytest.mark.parametrize("rule", [r for r in RULES if r != "uncertain"])
def test_selection_is_deterministic_for_a_seed_and_skips_labelled(rule: str) -> None:
    x, _ = _blobs()
    labeled = np.arange(0, 240, 7)
    a = select(rule, x, 10, labeled=labeled, seed=3, num_classes=6)
    b = select(rule, x, 10, labeled=labeled, seed=3, num_classes=6)
    assert np.array_equal(a.index, b.index)
    assert len(np.unique(a.index)) == 10
    assert not np.intersect1d(a.index, labeled).size


def test_uncertain_picks_low_margins_spread_over_clusters_never_labelled() -> None:
    x, y = _blobs()
    rng = np.random.default_rng(0)
    probs = np.full((len(x), 6), 0.01)
    probs[np.arange(len(x)), y] = 0.95  # confident everywhere ...
    doubtful = np.concatenate([np.flatnonzero(y == c)[:5] for c in range(6)])
    probs[doubtful, (y[doubtful] + 1) % 6] = 0.94  # ... but for five images per cluster
    probs /= probs.sum(1, keepdims=True)
    labeled = doubtful[::5][:2]  # two of the doubtful ones are labelled already
    probs += rng.random(probs.shape) * 1e-4  # no ties
    picks = select("uncertain", x, 6, labeled=labeled, seed=0, probs=probs)
    assert set(picks.index) <= set(doubtful) - set(labeled)
    assert len(set(y[picks.index])) == 6


def test_impossible_budgets_and_unknown_rules_are_refused() -> None:
    x, _ = _blobs(k=2, per=3)
    with pytest.raises(ValueError, match="pool of 5 unlabelled"):
        select("typiclust", x, 6, labeled=np.arange(6))
    with pytest.raises(ValueError, match="unknown selection rule"):
        select("best", x, 2)
    with pytest.raises(ValueError, match="predictions"):
        select("uncertain", x, 2)


def test_contact_sheet_has_one_tile_per_image(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 200, (11, 8, 8, 1), dtype=np.uint8)
    rows, cols = contact_sheet(images, tmp_path / "s.png")
    sheet = np.asarray(Image.open(tmp_path / "s.png").convert("L"))
    assert (rows, cols) == sheet_grid(11) == (3, 4)
    assert sheet.shape == (rows * (TILE + CAPTION + PAD) + PAD, cols * (TILE + PAD) + PAD)
    tiles = [sheet[PAD + r * (TILE + CAPTION + PAD):][:TILE, PAD + c * (TILE + PAD):][:, :TILE]
             for r in range(rows) for c in range(cols)]
    filled = [t.min() < 255 for t in tiles]
    assert sum(filled) == 11 and not any(filled[11:])


def _folder(root: Path) -> Path:
    """A 3-class image folder (classes are stripes at different rows)."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(["ant", "bee", "cat"]):
        (root / "set" / name).mkdir(parents=True)
        for i in range(20):
            img = rng.integers(0, 60, (12, 12), dtype=np.uint8)
            img[4 * c:4 * c + 4] = 250
            Image.fromarray(img).save(root / "set" / name / f"{i}.png")
    return root / "set"


def test_contact_sheet_tiles_come_from_the_source_files_at_a_readable_size(
        tmp_path: Path) -> None:
    """Selected at 6 px, drawn from the 12-px source files at TILE px with rank · class and
    score under each tile (the 6-px training images blown up would be mush)."""
    from tinyssl.select.sheet import sheet_images

    data = f"folder:{_folder(tmp_path)}"
    out = tmp_path / "sel.csv"
    code, text = _invoke("select", data, "--budget", "6", "--features", "pixels",
                         "--image-size", "6", "--out", str(out))
    assert code == 0, text
    sheet = Image.open(out.with_suffix(".png"))
    rows, cols = sheet_grid(6)
    assert TILE >= 96 and sheet.size == (cols * (TILE + PAD) + PAD,
                                         rows * (TILE + CAPTION + PAD) + PAD)
    first = next(csv.DictReader(out.read_text().splitlines()))["file"]
    source = np.asarray(Image.open(tmp_path / "set" / first).resize((TILE, TILE),
                                                                     Image.Resampling.BILINEAR))
    tile = np.asarray(sheet.convert("L"))[PAD:PAD + TILE, PAD:PAD + TILE]
    assert np.abs(tile.astype(int) - source).max() <= 1  # the file itself, not the 6-px copy
    bundle = load_dataset(data, image_size=6)
    idx = np.arange(3)
    assert sheet_images("digits", bundle, idx, "squash").shape == (3, 6, 6, 1)  # no files
    # the caption band under the first tile holds text (rank · class, score)
    band = np.asarray(sheet.convert("L"))[PAD + TILE:PAD + TILE + CAPTION, PAD:PAD + TILE]
    assert (band < 128).sum() > 50


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_select_then_train_with_the_labels_file_round_trips(tmp_path: Path) -> None:
    data = f"folder:{_folder(tmp_path)}"
    out = tmp_path / "sel.csv"
    code, text = _invoke("select", data, "--budget", "6", "--features", "pixels",
                         "--out", str(out))
    assert code == 0, text
    assert "3 of 3 classes among the 6 with a label" in text
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 7)]
    assert all((tmp_path / "set" / r["file"]).is_file() for r in rows)  # as in the folder
    assert Image.open(out.with_suffix(".png")).size[0] > 0
    # the same --out again would lose typed-in labels: refused
    assert _invoke("select", data, "--budget", "6", "--features", "pixels",
                   "--out", str(out))[0] != 0

    # a person labels them (one on purpose against the folder's class): those labels win
    own = rows[0]["file"].split("/")[-2]
    rows[0]["label"] = "bee" if own != "bee" else "ant"
    for r in rows[1:]:
        r["label"] = r["file"].split("/")[-2]
    labelled = tmp_path / "labelled.csv"
    with open(labelled, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, text = _invoke("train", "--data", data, "--labels-file", str(labelled),
                         "--val-per-class", "2", "--steps", "3", "--eval-every", "3",
                         "--no-progress", "--runs", str(tmp_path / "runs"))
    assert code == 0, text
    run = next((tmp_path / "runs").iterdir())
    split = Split.load(run / "split.npz")
    bundle = load_dataset(data)
    names = list(bundle.train.names)
    assert split.source == "labels-file"
    assert sorted(split.labeled) == sorted(names.index(r["file"]) for r in rows)
    classes = bundle.classes
    given = {names.index(r["file"]): classes.index(r["label"]) for r in rows}
    assert {int(i): int(y) for i, y in zip(split.labeled, split.labeled_y, strict=True)} == given
    assert bundle.train.y[names.index(rows[0]["file"])] == classes.index(own)  # overridden
    assert not np.intersect1d(split.labeled, split.val).size
    # resuming uses the same labels (apply_labels on the saved split)
    cfg = load_config(run / "config.yaml", {})
    resumed, _ = load_data(cfg, run)
    assert [int(resumed.train.y[i]) for i in sorted(given)] == [given[i] for i in sorted(given)]


def test_labels_file_errors_are_one_clear_line(tmp_path: Path) -> None:
    data = f"folder:{_folder(tmp_path)}"
    cases = {
        "unknown.csv": ("file,label\nant/0.png,ant\nant/nope.png,ant\n",
                        "not training images"),
        "badclass.csv": ("file,label\nant/0.png,wasp\n", "unknown class(es) 'wasp'"),
        "partial.csv": ("file,label\nant/0.png,ant\nant/1.png,\n", "have no label"),
        "twice.csv": ("file\nant/0.png\nant/0.png\n", "more than once"),
        "nocolumn.csv": ("name\nant/0.png\n", "'file' or an 'index' column"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        code, out = _invoke("train", "--data", data, "--labels-file", str(tmp_path / name),
                            "--steps", "1", "--runs", str(tmp_path / "runs"))
        assert code == 2 and message in out and "Traceback" not in out, (name, out)
    assert not (tmp_path / "runs").exists()  # nothing half-made
    code, out = _invoke("train", "--labels-file", str(tmp_path / "x.csv"), "--labels", "5")
    assert code == 2 and "no labels or labels_per_class" in out
    code, out = _invoke("select", "digits", "--budget", "100000", "--features", "pixels",
                        "--out", str(tmp_path / "s.csv"))
    assert code == 2 and "budget must be between 1 and" in out


def test_array_sources_list_indices_and_selection_runs_inside_training(tmp_path: Path) -> None:
    out = tmp_path / "sel.csv"
    code, text = _invoke("select", "digits", "--per-class", "2", "--features", "pixels",
                         "--out", str(out))
    assert code == 0, text
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 20 and all(r["index"].isdigit() for r in rows)
    cfg = load_config(None, {"data": "digits", "selection": "typicover", "labels_per_class": 2,
                             "selection_features": "pixels"})
    bundle, split = load_data(cfg, None, config_split)
    again = load_data(cfg, None, config_split)[1]
    assert split.source == "typicover" and len(split.labeled) == 20
    assert np.array_equal(split.labeled, again.labeled)
    assert len(np.unique(bundle.train.y[split.labeled])) >= 9  # digits: nearly every class
    assert not np.intersect1d(split.labeled, split.val).size
    assert len(split.labeled) + len(split.val) + len(split.unlabeled) == len(bundle.train)
    uniform = load_config(None, {"data": "digits", "selection": "uniform", "labels": 20})
    first, second = (load_data(uniform, None, config_split)[1] for _ in range(2))
    assert first.source == "uniform" and np.array_equal(first.labeled, second.labeled)
    assert len(first.labeled) == 20 and not np.intersect1d(first.labeled, first.val).size
    with pytest.raises(ValueError, match="pipeline.run_training"):  # the bare trainer's
        load_data(uniform, None)


def test_next_round_skips_the_runs_labels_and_ranks_by_uncertainty(tmp_path: Path) -> None:
    code, text = _invoke("train", "--data", "digits", "--labels-per-class", "2", "--steps", "20",
                         "--eval-every", "20", "--no-progress", "--runs", str(tmp_path / "runs"))
    assert code == 0, text
    run = next((tmp_path / "runs").iterdir())
    out = tmp_path / "round2.csv"
    code, text = _invoke("select", "digits", "--run", str(run), "--budget", "15",
                         "--out", str(out))
    assert code == 0, text
    assert "by uncertain" in text
    rows = list(csv.DictReader(out.read_text().splitlines()))
    picked = {int(r["index"]) for r in rows}
    assert len(picked) == 15
    assert not picked & set(Split.load(run / "split.npz").labeled.tolist())
    margins = [float(r["score"]) for r in rows]
    assert margins == sorted(margins)  # most uncertain first


def test_simclr_features_are_trained_once_and_reused(tmp_path: Path) -> None:
    bundle = load_dataset("digits", image_size=16)
    train = ImageSet(bundle.train.x[:200], bundle.train.y[:200])
    small = DataBundle("digits", bundle.classes, train, bundle.test)
    kwargs = dict(data="digits", image_size=16, resize="squash", model="tiny-w2a2", steps=3,
                  seed=0, cache_dir=tmp_path / "enc", progress=False)
    first = train_features("simclr", small, **kwargs)
    second = train_features("simclr", small, **kwargs)
    assert first.shape[0] == 200 and np.allclose(first, second)
    assert len(list((tmp_path / "enc" / "encoders").glob("*/*/summary.json"))) == 1


def test_unlabelled_folder_select_arrange_train(tmp_path: Path) -> None:
    """The customer's first round: a plain folder of images with no classes → select →
    labels typed in → `data arrange` → a folder `train` reads, nothing else touched."""
    rng = np.random.default_rng(1)
    (tmp_path / "imgs").mkdir()
    for i in range(40):
        img = rng.integers(0, 60, (10, 10), dtype=np.uint8)
        img[:, (i % 2) * 5:(i % 2) * 5 + 5] = 250  # two kinds: left or right half bright
        Image.fromarray(img).save(tmp_path / "imgs" / f"{i:02d}.png")
    data = f"folder:{tmp_path / 'imgs'}"
    assert load_dataset(data).num_classes == 0
    code, text = _invoke("train", "--data", data, "--steps", "1")
    assert code == 2 and "no labelled images" in text and "tinyssl select" in text
    out = tmp_path / "sel.csv"
    code, text = _invoke("select", data, "--budget", "6", "--features", "pixels",
                         "--out", str(out))
    assert code == 0 and "tinyssl data arrange" in text, text
    rows = list(csv.DictReader(out.read_text().splitlines()))
    # the person labels the picks by what they see (which half is bright)
    for r in rows:
        img = np.asarray(Image.open(tmp_path / "imgs" / r["file"]))
        r["label"] = "left" if img[:, :5].mean() > img[:, 5:].mean() else "right"
    assert {r["label"] for r in rows} == {"left", "right"}  # the picks cover both kinds
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, text = _invoke("train", "--data", data, "--labels-file", str(out), "--steps", "1")
    assert code == 2 and "data arrange" in text  # unlabelled images: arrange them first
    arranged = tmp_path / "arranged"
    code, text = _invoke("data", "arrange", str(out), "--data", data, "--out", str(arranged))
    assert code == 0, text
    assert "unlabeled/ 34" in text
    bundle = load_dataset(f"folder:{arranged}")
    assert bundle.classes == ["left", "right"]
    assert len(bundle.train) + len(bundle.test) == 6 and len(bundle.unlabeled) == 34
    assert (arranged / "train" / rows[0]["label"] / rows[0]["file"]).read_bytes() == \
        (tmp_path / "imgs" / rows[0]["file"]).read_bytes()  # copied byte for byte
    # never over an existing folder; labels that cannot be folders or name no image: refused
    assert _invoke("data", "arrange", str(out), "--data", data, "--out", str(arranged))[0] == 2
    (tmp_path / "bad.csv").write_text("file,label\n00.png,../up\n")
    code, text = _invoke("data", "arrange", str(tmp_path / "bad.csv"), "--data", data,
                         "--out", str(tmp_path / "x"))
    assert code == 2 and "cannot be a class folder" in text
    (tmp_path / "gone.csv").write_text("file,label\nnope.png,left\n")
    code, text = _invoke("data", "arrange", str(tmp_path / "gone.csv"), "--data", data,
                         "--out", str(tmp_path / "x"))
    assert code == 2 and "not images of" in text and not (tmp_path / "x").exists()


def test_labelling_rounds_spend_the_budget_during_training(tmp_path: Path) -> None:
    code, text = _invoke("train", "--data", "digits", "--labels-per-class", "2",
                         "--selection", "typiclust", "--selection-features", "pixels",
                         "--selection-rounds", "3", "--steps", "30", "--eval-every", "10",
                         "--no-progress", "--runs", str(tmp_path / "runs"))
    assert code == 0, text
    run = next((tmp_path / "runs").iterdir())
    split = Split.load(run / "split.npz")
    assert len(split.labeled) == 7  # 20 in rounds of 7, 7, 6
    events = [json.loads(line) for line in (run / "rounds.jsonl").read_text().splitlines()]
    assert [(e["step"], e["round"], e["added"]) for e in events] == [(10, 2, 7), (20, 3, 6)]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["labels"] == summary["final_labeled"] == 20
    assert summary["label_source"] == "typiclust×3"
    every, _ = read_labels_file(run / "labels.csv", load_dataset("digits"))
    assert len(every) == 20 and set(split.labeled) <= set(every)  # all rounds, for later runs
    code, text = _invoke("train", "--data", "digits", "--labels", "20",
                         "--selection-rounds", "2")
    assert code == 2 and "needs a selection rule" in text
    code, text = _invoke("train", "--data", "digits", "--labels", "20", "--selection", "uniform",
                         "--selection-rounds", "3", "--steps", "2")
    assert code == 2 and "cannot exceed steps" in text  # some rounds would never happen


def test_config_selections_are_the_cold_start_rules() -> None:
    """config.SELECTIONS (named below the select layer) lists exactly what select offers a
    training run: random, uniform and every cold-start rule."""
    from tinyssl.config import SELECTIONS
    from tinyssl.select.rules import COLD_RULES

    assert ("random", "uniform", *COLD_RULES) == SELECTIONS
