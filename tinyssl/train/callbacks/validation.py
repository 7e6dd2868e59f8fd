"""Validation every `eval_every` steps: the metrics.jsonl record, BatchNorm re-estimation,
best.pt (by validation accuracy), and the time to `target_acc`.

A run with no labelled validation images but unlabelled ones held out (`holdout_unlabeled`)
scores instead its agreement with the method's reference network there (a distilled
student: its teacher), which needs no label; `val_acc` then holds that score (issue 24)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinyssl.config import TrainConfig
from tinyssl.models import model_spec_dict
from tinyssl.runs import save_checkpoint
from tinyssl.train.callbacks.base import Callback
from tinyssl.train.evaluate import accuracy, agreement, recalibrate_bn

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


def validation_due(step: int, cfg: TrainConfig) -> bool:
    """Every `eval_every` steps and after the last one."""
    return step % cfg.eval_every == 0 or step == cfg.steps


class Validation(Callback):
    order = 10

    def __init__(self) -> None:
        self.best_val, self.last_val, self.time_to_target = -1.0, None, None

    def after_step(self, trainer: Trainer) -> None:
        if validation_due(trainer.step, trainer.cfg):
            self.validate(trainer)
            trainer.request_train_mode()

    def validate(self, trainer: Trainer) -> None:
        cfg, dist, net = trainer.cfg, trainer.dist, trainer.eval_net
        val = None
        if trainer.method.uses_labeled and dist.main:
            if cfg.bn_recalibrate and not cfg.freeze_encoder:  # frozen: BN too
                recalibrate_bn(net, trainer.pool.bn_images())
            val = accuracy(net, trainer.pool.val_x, trainer.pool.val_y)
            if not len(trainer.pool.val_y) and len(trainer.pool.holdout_idx):  # label-free
                ref = trainer.method.holdout_reference()
                x = trainer.pool.images(trainer.pool.holdout_idx)
                val = None if ref is None else agreement(net, ref.to(x.device), x)
        val = dist.broadcast(val)
        record: dict[str, Any] = {"step": trainer.step, **trainer.take_logs()}
        record.update(lr=trainer.opt.param_groups[0]["lr"], val_acc=val,
                      images_per_s=trainer.images_per_s,
                      labeled=len(trainer.pool.labeled_idx), train_time_s=trainer.train_time)
        self.last_val = val
        if val is not None and cfg.target_acc is not None and self.time_to_target is None \
                and val >= cfg.target_acc:
            self.time_to_target = trainer.train_time
        trainer.log(record)
        if dist.main and val is not None and val > self.best_val:
            self.best_val = val
            save_checkpoint(trainer.run / "checkpoints" / "best.pt", {
                "model": net.state_dict(), "model_spec": model_spec_dict(trainer.spec),
                "classes": list(trainer.bundle.classes), "step": trainer.step,
                "val_acc": val})
        self.best_val = dist.broadcast(self.best_val)

    def summary(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        summary.update(best_val_acc=self.best_val if self.best_val >= 0 else None,
                       time_to_target_s=self.time_to_target,
                       val_score="accuracy" if len(trainer.split.val) else (
                           "holdout" if len(trainer.pool.holdout_idx) else None))

    def state_dict(self) -> dict[str, Any]:
        return {"best_val_acc": self.best_val, "last_val_acc": self.last_val,
                "time_to_target_s": self.time_to_target}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        self.best_val, self.last_val = checkpoint["best_val_acc"], checkpoint["last_val_acc"]
        self.time_to_target = checkpoint["time_to_target_s"]
