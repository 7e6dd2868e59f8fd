"""pretrain → probe → fine-tune end to end on digits (16×16, tiny preset at half width), and
a two-by-one transfer study that resumes without redoing finished cells."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from tinyssl.cli import main
from tinyssl.pipeline.transfer import run_transfer
from tinyssl.runs import load_checkpoint

FAST = ["--data", "digits", "--image-size", "16", "--model", "tiny-w2a2", "--width-mult",
        "0.5", "--device", "cpu", "--no-progress"]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _encoder(run: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run / "checkpoints" / "last.pt")["model"]
    return {k: v for k, v in state.items() if k.startswith("encoder.")}


def _only_run(root: Path) -> Path:
    (run,) = [p for p in root.iterdir() if (p / "summary.json").is_file()]
    return run


def test_pretrain_probe_finetune(tmp_path: Path) -> None:
    cli = CliRunner()
    res = cli.invoke(main, ["pretrain", "--method", "simclr", *FAST, "--no-float-twin",
                            "--steps", "12", "--batch-size", "32", "--eval-every", "6", "-o",
                            "temperature=0.2",
                            "--runs", str(tmp_path / "pre")])
    assert res.exit_code == 0, res.output
    pre = _only_run(tmp_path / "pre")
    metrics = [json.loads(x) for x in (pre / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [6, 12]
    assert all(m["embed_std"] > 0 for m in metrics) and "embed std" in res.output.replace(
        "embedding std", "embed std")
    assert yaml.safe_load((pre / "config.yaml").read_text())["method_options"] == {
        "temperature": 0.2}

    res = cli.invoke(main, ["probe", str(pre), "--data", "digits", "--labels-per-class", "5",
                            "--k", "3", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    probe = json.loads((pre / "probe.json").read_text())
    assert probe["labels"] == 50 and probe["k"] == 3 and probe["feature_dim"] == 32
    assert probe["linear_acc"] > 0.2 and probe["knn_acc"] > 0.2  # chance is 0.1

    res = cli.invoke(main, ["train", *FAST, "--labels-per-class", "5", "--steps", "6",
                            "--eval-every", "6", "--init", str(pre), "--freeze-encoder",
                            "--runs", str(tmp_path / "ft")])
    assert res.exit_code == 0, res.output
    ft = _only_run(tmp_path / "ft")
    for key, value in _encoder(pre).items():  # frozen: exactly the pre-trained encoder
        torch.testing.assert_close(_encoder(ft)[key], value, msg=key)


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    cli = CliRunner()
    res = cli.invoke(main, ["pretrain", "--method", "fixmatch", *FAST, "--runs", str(tmp_path)])
    assert res.exit_code == 2 and "not a pretext method" in res.output
    assert "Traceback" not in res.output
    res = cli.invoke(main, ["probe", str(tmp_path), "--data", "digits", "--labels", "20"])
    assert res.exit_code == 2 and "not a run directory" in res.output
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: x\nsources: {none: null}\ntargets: {d: digits}\nbogus: 1\n")
    res = cli.invoke(main, ["transfer", str(cfg), "--runs", str(tmp_path)])
    assert res.exit_code == 2 and "unknown transfer option(s) bogus" in res.output


def test_transfer_matrix_is_written_and_resumes(tmp_path: Path) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "mini", "image_size": 16, "channels": 3, "width_mult": 0.5,
        "max_train_images": 400, "max_test_images": 100, "probe": True, "probe_k": 3,
        "sources": {"none": None, "digits": "digits"}, "targets": {"digits": "digits"},
        "pretrain": {"method": "rotation", "steps": 4, "batch_size": 16, "device": "cpu"},
        "finetune": {"labels_per_class": 3, "val_per_class": 2, "steps": 4, "batch_size": 16,
                     "device": "cpu", "eval_every": 4}}, sort_keys=False))
    paths = run_transfer(cfg, tmp_path)
    study = tmp_path / "mini"
    rows = (study / "transfer_matrix.csv").read_text().splitlines()
    assert rows[0] == "pretrained_on,digits" and [r.split(",")[0] for r in rows[1:]] == [
        "none", "digits"]
    assert all(0.0 <= float(r.split(",")[1]) <= 1.0 for r in rows[1:])
    assert paths["png"].stat().st_size > 0 and "| none |" in paths["md"].read_text()
    assert (study / "probe_linear_matrix.csv").is_file()
    state = json.loads((study / "state.json").read_text())
    assert set(state["cells"]) == {"none|digits|s0", "digits|digits|s0"}
    # the grey digits were converted once to the study's 16×16 RGB
    assert np.load(study / "data" / "digits.npz")["x_train"].shape[1:] == (16, 16, 3)

    runs_before = sorted(p.name for p in (study / "finetune").iterdir())
    run_transfer(cfg, tmp_path)  # resumed: nothing is trained again
    assert sorted(p.name for p in (study / "finetune").iterdir()) == runs_before
    assert len(list((study / "pretrain").iterdir())) == 1


@pytest.mark.parametrize("name", ["transfer-cpu.yaml", "transfer-gpu.yaml"])
def test_shipped_transfer_configs_are_valid(name: str) -> None:
    from tinyssl.config import load_config
    from tinyssl.pipeline.transfer import TransferConfig
    from tinyssl.train.pretext import pretrain_config

    cfg = TransferConfig.load(Path(__file__).parents[2] / "configs" / name)
    assert cfg.sources["none"] is None and set(cfg.targets) <= set(cfg.sources)
    top = {"model": cfg.model, "image_size": cfg.image_size, "device": "cpu"}
    assert pretrain_config(None, {**cfg.pretrain, **top}).method == "simclr"
    assert load_config(None, {**cfg.finetune, **top}).labels_per_class is not None
