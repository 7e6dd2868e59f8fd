"""Small trained run directories for the export / FPGA / verify tests.

A run is what training leaves behind (config.yaml + checkpoints/best.pt), made here in a
second with a few SGD steps on a learnable synthetic task, so batch-norm statistics and
weights are far from their initial values and the whole chain is exercised honestly.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import torch
import yaml

from tinyssl.models import build_model
from tinyssl.runs import save_checkpoint

NUM_CLASSES = 4


def synthetic_images(n: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 N×H×W×C noise whose class is the brightest image quadrant."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, NUM_CLASSES, n)
    x = rng.integers(0, 120, (n, size, size, channels))
    h = size // 2
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, r * h:(r + 1) * h, q * h:(q + 1) * h] += 120
    return x.astype(np.uint8), y.astype(np.int64)


def make_run(root: Path, model: str, channels: int = 1, size: int = 16,
             width_mult: float = 0.25, steps: int = 15, seed: int = 0) -> Path:
    """Train `model` for a few steps and save it as a run directory under `root`."""
    torch.manual_seed(seed)
    run = root / f"{model}-c{channels}-s{size}"
    run.mkdir(parents=True)
    x_tr, y_tr = synthetic_images(128, size, channels, seed)
    x_te, y_te = synthetic_images(64, size, channels, seed + 1)
    data = run / "data.npz"
    np.savez(data, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    net = build_model(model, channels, size, NUM_CLASSES, width_mult)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    xt = torch.from_numpy(x_tr).permute(0, 3, 1, 2).float() / 255
    yt = torch.from_numpy(y_tr)
    for step in range(steps):
        idx = torch.arange(step * 32, step * 32 + 32) % len(xt)
        loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    spec = {"name": model, "in_channels": channels, "image_size": size,
            "num_classes": NUM_CLASSES, "width_mult": width_mult}
    save_checkpoint(run / "checkpoints" / "best.pt",
                    {"model": net.state_dict(), "model_spec": spec,
                     "classes": [str(i) for i in range(NUM_CLASSES)]})
    (run / "config.yaml").write_text(yaml.safe_dump(
        {"data": f"npz:{data}", "image_size": size, "model": model, "width_mult": width_mult}))
    return run


_ROOT = Path(tempfile.mkdtemp(prefix="tinyssl-fpga-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def built_run(model: str, channels: int = 1, size: int = 16, width_mult: float = 0.25) -> Path:
    """A trained, exported and FINN-built (estimates) run, made once per test session and
    shared by the export, fpga and verify tests."""
    return _built(model, channels, size, width_mult)


@cache  # positional-only key, so built_run("m") and built_run("m", 1, 16, 0.25) share a run
def _built(model: str, channels: int, size: int, width_mult: float) -> Path:
    from tinyssl.fpga import build_run

    run = make_run(_ROOT, model, channels, size, width_mult)
    build_run(run)
    return run
