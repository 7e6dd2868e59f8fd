"""How long one training step takes, measured, so long commands can say what they will cost."""

from __future__ import annotations

import time

import torch

from tinyssl.config import TrainConfig
from tinyssl.methods import Batch, get_method
from tinyssl.models import build_model
from tinyssl.models.fast_quant import train_fast


def seconds_per_step(cfg: TrainConfig, image_shape: tuple[int, int, int], num_classes: int,
                     teacher_model: str | None = None, steps: int = 3) -> float:
    """Time `steps` real steps (forward, backward, SGD update; after one warm-up step) of
    `cfg`'s method and model on random uint8 images of `image_shape` (H, W, C). Distillation
    is timed as a supervised step on as many images as it sends through the student, plus a
    forward of `teacher_model` on them, since its teacher does not exist yet when a plan is
    estimated."""
    h, _, c = image_shape
    device = torch.device("cuda" if cfg.device != "cpu" and torch.cuda.is_available()
                          else "cpu")
    net = build_model(cfg.model, c, h, num_classes, cfg.width_mult)
    train_fast(net, cfg.fast_quant)  # timed as the trainer will run it
    n_u = max(1, round(cfg.batch_size * cfg.unlabeled_ratio))
    n_l = cfg.batch_size
    if cfg.method == "distill":
        method = get_method("supervised")(net, num_classes)
        n_l += n_u * (2 if cfg.method_options.get("strong_view") else 1)
    else:
        method = get_method(cfg.method)(net, num_classes, **cfg.method_options)
    teacher = (build_model(teacher_model, c, h, num_classes).to(device).eval()
               if cfg.method == "distill" and teacher_model else None)
    method.bind_pool(n_u)
    method.to(device)

    def images(n: int) -> torch.Tensor:
        return torch.randint(0, 256, (n, c, h, h), dtype=torch.uint8, device=device)

    labeled = Batch(images(n_l), torch.randint(0, num_classes, (n_l,), device=device))
    unlabeled = Batch(images(n_u if method.uses_labeled else cfg.batch_size),
                      index=torch.arange(n_u, device=device))
    opt = torch.optim.SGD(method.parameters(), lr=1e-3)
    method.train()
    elapsed = 0.0
    for i in range(steps + 1):
        start = time.perf_counter()
        out = method(labeled if method.uses_labeled else None,
                     unlabeled if method.uses_unlabeled or not method.uses_labeled else None,
                     0.5)
        if teacher is not None:
            with torch.no_grad():
                teacher(images(n_l).float() / 255)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed += (time.perf_counter() - start) if i else 0.0
    return elapsed / steps
