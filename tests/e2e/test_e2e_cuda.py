"""The GPU path (run by scripts/gpu_check.sh on a CUDA machine; CI has no GPU, so these
report as skipped there): training with AMP and channels-last, distillation and the float
twin's initialisation on the device, and that a CUDA run's weights load on the CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tinyssl.config import load_config
from tinyssl.models import load_net
from tinyssl.pipeline import run_training

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")]

FAST = {"data": "digits", "image_size": 16, "labels_per_class": 5, "steps": 30,
        "eval_every": 10, "batch_size": 32, "progress": False, "device": "cuda"}


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_fixmatch_trains_on_cuda_with_amp(amp: str, tmp_path: Path) -> None:
    run = run_training(load_config(None, {**FAST, "method": "fixmatch", "amp": amp}), tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_acc"] > 0.15 and summary["images_per_s"] > 0
    assert json.loads((run / "env.json").read_text())["cuda"]  # the GPU's name was recorded
    net, _ = load_net(run)  # a CUDA run's checkpoint loads on the CPU
    assert net(torch.rand(2, 1, 16, 16)).shape == (2, 10)


def test_float_twin_teacher_and_distilled_student_on_cuda(tmp_path: Path) -> None:
    teacher = run_training(load_config(None, {**FAST, "model": "tiny-float",
                                              "method": "freematch"}), tmp_path / "t")
    student = run_training(load_config(None, {
        **FAST, "method": "distill", "init": str(teacher),
        "method_options": {"teacher": str(teacher)}}), tmp_path / "s")
    summary = json.loads((student / "summary.json").read_text())
    assert summary["test_acc"] > 0.3
