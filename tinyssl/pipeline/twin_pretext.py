"""The float-twin route of a pretext (`tinyssl pretrain`'s default for a quantized model;
`--no-float-twin` trains the quantized network directly): pre-train the float twin of the
quantized model (`tiny-float` for `tiny-w4a4`), carry it into the quantized
encoder with the fitted float → quantized initialisation `fit`'s student uses
(`tinyssl.models.float_init`), then continue the same pretext briefly on the quantized
network so that quantization-aware training refines what the float twin learned.

Why: a 2- or 4-bit encoder trained from scratch by a pretext moves its weights only when
they cross rounding thresholds, so a short pretext run learns little (issue 30: SimCLR on an
unseen 4-class cell folder probed below chance). Binary-network SSL papers pre-train a float
network first and carry it over (S2-BNN, Shen et al. CVPR 2021; BURN, Kim & Choi 2022).

Measured (results/ssl-suite-v1.md, the direct route's suite): at the same 200 steps the route
beat direct SimCLR on three of four sets at about half its pre-training time, which is why
it became the default for every pretext (results/ssl-protocol.md, version 2).

The result is two ordinary run directories: the twin's, and the quantized one (its
config.yaml names the twin as `init`), which `tinyssl probe` and `tinyssl train --init`
use like any pretext run.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tinyssl.config import TrainConfig
from tinyssl.models import family_of, parse_quant_name
from tinyssl.pipeline.run import run_training
from tinyssl.train.setup import run_slug

#: Quantized continuation length as a fraction of the twin's steps, and its learning rate
#: as a fraction of the twin's: by analogy with fit's student (fine-tuned from the float
#: twin at a third of the presets' rate); not tuned.
QUANT_STEPS_FRACTION = 0.2
QUANT_LR_FRACTION = 1 / 3


def twin_configs(cfg: TrainConfig, quant_steps: int | None = None
                 ) -> tuple[TrainConfig, TrainConfig]:
    """(the float twin's pretext config, the quantized continuation's, without `init`) for a
    validated pretext config `cfg` of a quantized CNV-family model."""
    parsed = parse_quant_name(cfg.model)
    if parsed is None:
        raise ValueError(f"--float-twin needs a quantized model of a CNV family (e.g. "
                         f"tiny-w4a4); {cfg.model} has no float twin to pre-train.")
    if quant_steps is not None and quant_steps < 1:
        raise ValueError(f"--twin-quant-steps must be at least 1 (got {quant_steps}).")
    name = cfg.name or run_slug(replace(cfg, method=f"{cfg.method}+twin"))
    twin = replace(cfg, model=f"{family_of(cfg.model)}-float", name=f"{name}-float",
                   method_options=dict(cfg.method_options))
    steps = quant_steps or max(1, round(QUANT_STEPS_FRACTION * cfg.steps))
    quant = replace(cfg, name=name, steps=steps, lr=cfg.lr * QUANT_LR_FRACTION,
                    eval_every=min(cfg.eval_every, steps),
                    method_options=dict(cfg.method_options))
    return twin.validate(), quant


def pretrain_runs(cfg: TrainConfig, runs_root: Path, float_twin: bool | None = None,
                  quant_steps: int | None = None) -> tuple[Path, ...]:
    """A pretext's run directories, the encoder's last: the float-twin route (twin,
    quantized) when `float_twin` is True or None (the default) and `cfg.model` is quantized,
    else the one direct run."""
    if float_twin is None:
        float_twin = parse_quant_name(cfg.model) is not None
    if not float_twin:
        if quant_steps is not None:
            raise ValueError("--twin-quant-steps sets the float-twin route's quantized "
                             "continuation; there is none without a quantized --model or "
                             "with --no-float-twin.")
        return (run_training(cfg, runs_root),)
    return pretrain_float_twin(cfg, runs_root, quant_steps)


def pretrain_float_twin(cfg: TrainConfig, runs_root: Path, quant_steps: int | None = None
                        ) -> tuple[Path, Path]:
    """Run both stages → (twin run, quantized run)."""
    twin_cfg, quant_cfg = twin_configs(cfg, quant_steps)
    twin = run_training(twin_cfg, runs_root)
    quant = run_training(replace(quant_cfg, init=str(twin)).validate(), runs_root)
    return twin, quant
