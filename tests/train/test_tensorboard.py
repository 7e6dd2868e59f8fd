"""TensorBoard event files, read back with TensorBoard's own readers (EventAccumulator; the
server's plugin_event_accumulator where text must be purged): every metrics.jsonl record,
the labels growth adds, the test summary with its confusion matrix; `log: none` writes none
and changes nothing else; a resumed run's curves do not double; `tinyssl fit` and
`tinyssl pretrain` write theirs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tensorboard.backend.event_processing import plugin_event_accumulator
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from train_fixtures import killed_run

from tinyssl.cli import main
from tinyssl.config import load_config
from tinyssl.pipeline import run_training
from tinyssl.pipeline.fit import FitConfig, plan
from tinyssl.runs import read_jsonl
from tinyssl.train.callbacks.tensorboard import TAGS

CFG = {"data": "digits", "image_size": 16, "model": "tiny-w2a2", "labels_per_class": 3,
       "steps": 12, "eval_every": 4, "batch_size": 16, "unlabeled_ratio": 2,
       "method": "uda", "pseudo_label": True, "pl_target": 0.0, "pl_every": 3, "pl_max": 10,
       "pl_threshold": 0.0, "warmup": 2, "progress": False, "device": "cpu",
       "checkpoint_every_s": 0.0}
TIME_FIELDS = {"train_time_s", "train_cpu_s", "images_per_s", "time_to_target_s"}


def events(directory: Path) -> EventAccumulator:
    acc = EventAccumulator(str(directory), size_guidance={"scalars": 0, "images": 0,
                                                          "tensors": 0})
    acc.Reload()
    return acc


def series(acc: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def text(acc: EventAccumulator, tag: str) -> str:
    (event,) = acc.Tensors(f"{tag}/text_summary")
    return event.tensor_proto.string_val[0].decode()


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted run with the default `log: tensorboard`, shared by the tests."""
    torch.set_num_threads(1)
    return run_training(load_config(None, CFG), tmp_path_factory.mktemp("straight"))


def test_events_hold_every_record_the_added_labels_and_the_test_summary(straight: Path
                                                                        ) -> None:
    run = straight
    acc = events(run)
    records = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [4, 8, 12]
    for key in set(records[0]) - {"step"}:  # losses, lr, val_acc, images/s, labelled count
        tag = TAGS.get(key, f"train/{key}")
        assert series(acc, tag) == [(r["step"], pytest.approx(r[key], rel=1e-6))
                                    for r in records], key
    # growth starts once val_acc exists (step 4), then every 3 steps: 10 images each
    grown = read_jsonl(run / "pseudolabels.jsonl")
    assert series(acc, "labels/added") == [(g["step"], sum(g["added"])) for g in grown]
    assert series(acc, "labels/added_wrong") == [(g["step"], sum(g["wrong"])) for g in grown]
    assert [s for s, _ in series(acc, "labels/added")] == [6, 9, 12]

    summary = json.loads((run / "summary.json").read_text())
    assert series(acc, "test/acc") == [(12, pytest.approx(summary["test_acc"]))]
    assert series(acc, "val/best_acc") == [(12, pytest.approx(summary["best_val_acc"]))]
    (image,) = acc.Images("test/confusion_matrix")
    assert image.step == 12 and image.width == image.height == 250  # 25 px for 10 classes
    table = text(acc, "test/confusion_matrix")
    cm = summary["confusion_matrix"]
    assert table.splitlines()[2] == "| 0 | " + " | ".join(map(str, cm[0])) + " |"
    assert "near chance" in text(acc, "warnings/0")  # 12 steps: the warning is logged too


def _scrub(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in TIME_FIELDS}


def test_log_none_writes_no_events_and_the_event_files_change_nothing_else(
        straight: Path, tmp_path: Path) -> None:
    """The behaviour-neutral check in small: same metrics, summary, pseudo-labels and
    bit-identical weights with and without the writer (through the CLI's --log)."""
    on = straight
    args = ["train", "--runs", str(tmp_path / "off"), "--log", "none", "--threads", "1"]
    for key, value in CFG.items():
        flag = "--" + key.removesuffix("_s").replace("_", "-")  # --checkpoint-every
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{flag[2:]}")
        else:
            args += [flag, str(value)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (off,) = (tmp_path / "off").iterdir()
    assert list(on.glob("events.out.tfevents.*")) and not list(off.glob("events.out.*"))
    assert [_scrub(r) for r in read_jsonl(on / "metrics.jsonl")] == \
        [_scrub(r) for r in read_jsonl(off / "metrics.jsonl")]
    assert (on / "pseudolabels.jsonl").read_text() == (off / "pseudolabels.jsonl").read_text()
    assert _scrub(json.loads((on / "summary.json").read_text())) == \
        _scrub(json.loads((off / "summary.json").read_text()))
    a = torch.load(on / "checkpoints" / "last.pt", weights_only=False)
    b = torch.load(off / "checkpoints" / "last.pt", weights_only=False)
    for part in ("model", "ema"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    assert torch.equal(a["rng"][0]["torch"], b["rng"][0]["torch"])
    assert a["config"] == {**b["config"], "log": "tensorboard"}


def test_a_resumed_run_appends_and_its_curves_do_not_double(
        straight: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a `kill -9` at step 8 leaves: events up to step 8 (and the summary), last.pt of
    step 6. The resumed run adds event files; the reader drops the old ones' steps after 6,
    and the curves are the uninterrupted run's."""
    torch.set_num_threads(1)
    run = killed_run(CFG, tmp_path, monkeypatch)
    before = sorted(run.glob("events.out.tfevents.*"))
    run_training(load_config(None, {}), resume=run)
    after = sorted(run.glob("events.out.tfevents.*"))
    assert len(after) == len(before) + 2 and set(before) <= set(after)  # appended

    a, b = events(straight), events(run)
    tags = a.Tags()["scalars"]
    assert set(tags) == set(b.Tags()["scalars"])
    for tag in tags:
        if not tag.startswith("speed/"):  # wall-clock
            assert series(b, tag) == series(a, tag), tag
    assert [s for s, _ in series(b, "val/acc")] == [4, 8, 12]
    assert [s for s, _ in series(b, "labels/added")] == [6, 9, 12]
    assert len(b.Images("test/confusion_matrix")) == 1


def test_fit_writes_its_stage_table_once_and_every_stage_its_curves(tmp_path: Path) -> None:
    (tmp_path / "fit.yaml").write_text("float_init_ablation: false\n")  # 3 stages suffice
    args = ["fit", "--config", str(tmp_path / "fit.yaml"), "--data", "digits",
            "--image-size", "16", "--labels-per-class", "2", "--steps", "6",
            "--teacher-steps", "6", "--no-hardware", "--device", "cpu", "--no-progress",
            "--threads", "1", "--runs", str(tmp_path / "runs")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    fit_dir = next((tmp_path / "runs").glob("fit-digits-*"))
    report = json.loads((fit_dir / "fit.json").read_text())
    stages = {s["stage"]: s for s in report["stages"]}
    assert list(stages) == ["baseline", "teacher", "student"]
    for name in stages:  # each stage is a TensorBoard run of its own below the fit
        assert series(events(fit_dir / name), "val/acc")[-1][0] == 6
    again = CliRunner().invoke(main, ["fit", "--resume", str(fit_dir)])
    assert again.exit_code == 0, again.output
    acc = events(fit_dir)  # written twice, read once: the rewrite replaced the first
    base = stages["baseline"]["test_acc"]
    for name, row in stages.items():
        assert series(acc, f"test_acc/{name}") == [(0, pytest.approx(row["test_acc"]))]
        if name != "baseline":
            assert series(acc, f"gain_over_baseline/{name}") == [
                (0, pytest.approx(row["test_acc"] - base, abs=1e-6))]
    # the legacy reader keeps texts of purged steps; the server's reader (this one) drops them
    server = plugin_event_accumulator.EventAccumulator(str(fit_dir))
    server.Reload()
    (table,) = server.Tensors("fit/text_summary")
    assert table.tensor_proto.string_val[0].decode() == (fit_dir / "fit.md").read_text()


def test_log_is_a_config_key_that_fit_hands_to_every_stage(tmp_path: Path) -> None:
    cfg = FitConfig.load(None, {"labels_per_class": 2, "log": "none"})
    assert {s.train.log for s in plan(cfg, tmp_path)} == {"none"}
    with pytest.raises(ValueError, match="unknown log 'wandb'; choose from tensorboard, none"):
        load_config(None, {"log": "wandb"})
    with pytest.raises(ValueError, match="unknown log 'wandb'"):
        FitConfig.load(None, {"labels_per_class": 2, "log": "wandb"})
    bad = CliRunner().invoke(main, ["train", "--log", "wandb"])
    assert bad.exit_code == 2 and "'wandb' is not one of 'tensorboard', 'none'" in bad.output


def test_pretrain_logs_its_pretext_loss(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "pretrain", "--data", "digits", "--steps", "4", "--eval-every", "2", "--batch-size",
        "16", "--device", "cpu", "--no-progress", "--threads", "1", "--no-float-twin", "--runs",
        str(tmp_path)])
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    acc = events(run)
    losses = [r["loss"] for r in read_jsonl(run / "metrics.jsonl")]
    assert [v for _, v in series(acc, "train/loss")] == pytest.approx(losses, rel=1e-6)
    assert "test/acc" not in acc.Tags()["scalars"]  # no labels, no test summary
    assert np.isfinite(losses).all()
