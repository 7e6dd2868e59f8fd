"""Optimiser, learning-rate schedule (linear warm-up, then cosine) and mixed precision."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from tinyssl.config import TrainConfig


def build_optimizer(cfg: TrainConfig, params: Iterable[torch.nn.Parameter]
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """The optimiser over `params` and its schedule, stepped once per training step."""
    if cfg.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
            weight_decay=cfg.weight_decay)
    else:
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        opt = cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = min(cfg.warmup_steps, cfg.steps - 1)
    decay = cfg.steps - warm

    def factor(step: int) -> float:
        """Linear warm-up, then cosine to 0 at cfg.steps: a function of the step alone,
        so a finished run extended to more steps follows the longer schedule."""
        if step < warm:
            return (step + 1) / (warm + 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(step - warm, decay) / decay))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def mixed_precision(cfg: TrainConfig, device: torch.device
                    ) -> tuple[torch.dtype | None, torch.amp.GradScaler]:
    """(autocast dtype or None, gradient scaler): AMP on CUDA only; the scaler is active
    for fp16 alone."""
    amp = cfg.amp if device.type == "cuda" else "off"
    if amp == "auto":
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    return dtype, torch.amp.GradScaler(device.type, enabled=amp == "fp16")
