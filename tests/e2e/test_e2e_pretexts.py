"""The four pretexts of issue 30 end to end on digits (pretrain → probe, a few steps each),
and the random-init floor (`tinyssl probe --random-init`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from tinyssl.cli import main
from tinyssl.models import ModelSpec
from tinyssl.pipeline.probe import random_encoder
from tinyssl.runs import load_checkpoint
from tinyssl.train.verdict import pretext_warnings

BASE = ["--data", "digits", "--image-size", "16", "--model", "tiny-w2a2", "--width-mult",
        "0.5", "--device", "cpu", "--no-progress", "--steps", "8", "--batch-size", "32",
        "--eval-every", "4"]
FAST = [*BASE, "--no-float-twin"]  # the pretext itself, on the quantized network directly
SIGNAL = {"exemplar": "instance_acc", "selflabel": "cluster_entropy",
          "context": "context_acc", "infomax": "mi_bound"}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _probe(run: Path, *extra: str) -> dict:
    res = CliRunner().invoke(main, ["probe", str(run), "--data", "digits", "--labels-per-class",
                                    "5", "--k", "3", "--device", "cpu", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(Path(res.output.rsplit("→ ", 1)[1].strip()).read_text())


@pytest.mark.parametrize("name", list(SIGNAL))
def test_pretext_pretrains_and_probes_on_digits(name: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["pretrain", "--method", name, *FAST,
                                    "--runs", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (run,) = [p for p in tmp_path.iterdir() if (p / "summary.json").is_file()]
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [4, 8]
    assert all(SIGNAL[name] in m and m["embed_std"] > 0 for m in metrics)
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert all(k.startswith(("encoder.", "classifier.")) for k in ckpt["model"])  # no heads
    assert any(not k.startswith("net.") for k in ckpt["method"])  # they live on the method
    probe = _probe(run)
    assert probe["labels"] == 50 and probe["encoder"] == "trained"
    assert probe["linear_acc"] > 0.2 and probe["knn_acc"] > 0.2  # chance is 0.1


def test_random_init_floor_is_a_probe_row(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["pretrain", "--method", "context", *FAST, "--steps", "2",
                                    "--eval-every", "2", "--runs", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (run,) = [p for p in tmp_path.iterdir() if (p / "summary.json").is_file()]
    floor = _probe(run, "--random-init")
    assert floor["encoder"] == "random init" and (run / "probe-random.json").is_file()
    assert 0.1 < floor["linear_acc"] <= 1.0 and floor["feature_dim"] == 32
    assert not (run / "probe.json").exists()  # the trained encoder's probe is another file
    trained = _probe(run)  # by default beside the floor of the same labels and seed
    assert trained["floor"] == {k: floor[k] for k in ("linear_acc", "knn_acc")}
    assert trained["beats_floor"] == (trained["linear_acc"] > floor["linear_acc"]
                                      and trained["knn_acc"] > floor["knn_acc"])
    assert (trained["verdict"] is None) == trained["beats_floor"]
    assert "floor" not in _probe(run, "--no-floor")

    spec = ModelSpec("tiny-w2a2", 1, 16, 10, 0.5)
    x = torch.randint(0, 256, (64, 1, 16, 16), dtype=torch.uint8)
    a, b = random_encoder(spec, x, seed=3), random_encoder(spec, x, seed=3)
    torch.manual_seed(3)
    fresh = spec.build().encoder
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, msg=name)  # seeded: the same floor every time
    weights = {k: v for k, v in fresh.state_dict().items()
               if "running" not in k and "num_batches" not in k}
    for name, value in weights.items():
        torch.testing.assert_close(a.state_dict()[name], value, msg=name)
    means = [v for k, v in a.state_dict().items() if k.endswith("running_mean")]
    assert means and any(m.abs().sum() > 0 for m in means)  # BatchNorm saw the images


def test_the_default_float_twin_route_pretrains_carries_and_probes(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["pretrain", "--method", "simclr", *BASE,
                                    "--twin-quant-steps", "2", "--runs", str(tmp_path)])
    assert res.exit_code == 0, res.output
    runs = {json.loads((p / "summary.json").read_text())["model"]: p
            for p in tmp_path.iterdir() if (p / "summary.json").is_file()}
    assert set(runs) == {"tiny-float", "tiny-w2a2"}
    twin, quant = runs["tiny-float"], runs["tiny-w2a2"]
    cfg = yaml.safe_load((quant / "config.yaml").read_text())
    assert cfg["init"] == str(twin) and cfg["steps"] == 2  # carried, then refined briefly
    assert cfg["lr"] == pytest.approx(1e-2 / 3) and quant.name.startswith("simclr+twin-")
    twin_w = load_checkpoint(twin / "checkpoints" / "last.pt")["model"]
    quant_w = load_checkpoint(quant / "checkpoints" / "last.pt")["model"]
    conv = next(k for k in twin_w if k.startswith("encoder.") and k.endswith("weight")
                and twin_w[k].dim() == 4)
    # fitted scales: the quantized layer holds w / s per channel, so directions match
    cos = torch.nn.functional.cosine_similarity(twin_w[conv].flatten(1),
                                                quant_w[conv].flatten(1), dim=1)
    assert cos.min() > 0.9
    probe = _probe(quant)
    assert probe["encoder"] == "trained" and probe["linear_acc"] > 0.2
    for bad, said in ((["--model", "tiny-float", "--float-twin"], "quantized model"),
                      (["--no-float-twin", "--twin-quant-steps", "3"], "--twin-quant-steps sets"),
                      (["--model", "tiny-float", "--twin-quant-steps", "3"], "quantized --model")):
        res = CliRunner().invoke(main, ["pretrain", *BASE, *bad, "--runs", str(tmp_path / "bad")])
        assert res.exit_code == 2 and said in res.output, res.output
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_a_pretext_whose_task_stays_at_chance_says_so(tmp_path: Path) -> None:
    """Rotation prediction on images that look the same at every quarter turn (what blood
    cells and aerial views nearly are) cannot learn: the run warns, the CLI says it."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 64, (160, 16, 16, 1))
    x = sum(np.rot90(a, k, axes=(1, 2)) for k in range(4)).astype(np.uint8)  # 4-fold symmetric
    data = tmp_path / "symmetric.npz"
    y = rng.integers(0, 2, 160)
    np.savez(data, x_train=x[:128], y_train=y[:128], x_test=x[128:], y_test=y[128:])
    res = CliRunner().invoke(main, ["pretrain", "--method", "rotation", *FAST, "--data",
                                    f"npz:{data}", "--runs", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    (summary,) = (tmp_path / "runs").glob("*/summary.json")
    [warning] = json.loads(summary.read_text())["warnings"]
    assert "rot_acc" in warning and "near chance (25.0 %)" in warning
    assert "no canonical orientation" in warning and "warning: rotation:" in res.output


def test_pretext_warnings_fire_only_near_chance() -> None:
    chance = {"jigsaw_acc": 1 / 24}
    assert pretext_warnings("jigsaw", {"jigsaw_acc": 0.05}, chance, "why")  # aid30's 5 %
    assert pretext_warnings("jigsaw", {"jigsaw_acc": 0.74}, chance, "why") == []  # pbc64's
    assert pretext_warnings("jigsaw", {"loss": 3.2}, chance, "why") == []  # not logged
    [sentence] = pretext_warnings("rotation", {"rot_acc": 0.26}, {"rot_acc": 0.25}, "because")
    assert sentence.startswith("rotation: its task accuracy (rot_acc 26.0 %)")
    assert "because" in sentence
