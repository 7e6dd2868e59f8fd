"""summary.json's verdict: test metrics of the best checkpoint (by validation accuracy, else
the last), chance level, and one-sentence warnings when the result is poor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinyssl.runs import find_checkpoint, load_checkpoint, read_jsonl
from tinyssl.train.callbacks.base import Callback
from tinyssl.train.evaluate import classification_metrics, predict_probs
from tinyssl.train.verdict import chance_accuracy, pretext_warnings, result_warnings

if TYPE_CHECKING:
    from tinyssl.train.loop import Trainer


class Verdict(Callback):
    order = 90  # after every callback that fills in summary fields it reads

    def summary(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        if not trainer.method.uses_labeled:
            self._pretext(trainer, summary)
            return
        pool, classes = trainer.pool, list(trainer.bundle.classes)
        if len(pool.test_y):
            net = trainer.spec.build().to(trainer.device)
            net.load_state_dict(load_checkpoint(find_checkpoint(trainer.run))["model"])
            pred = predict_probs(net, pool.test_x).argmax(1).cpu().numpy()
            m = classification_metrics(pool.test_y, pred, classes)
            summary.update(test_acc=m["accuracy"], test_macro_f1=m["macro_f1"],
                           confusion_matrix=m["confusion_matrix"])
        c = trainer.bundle.num_classes
        if summary["test_acc"] is not None:
            chance = chance_accuracy(pool.test_y, c)
            warnings = result_warnings(summary["test_acc"], chance)
        else:
            chance = chance_accuracy(pool.val_y.cpu().numpy(), c)
            warnings = result_warnings(summary["best_val_acc"], chance, "validation")
        summary.update(chance_acc=chance, warnings=warnings)

    @staticmethod
    def _pretext(trainer: Trainer, summary: dict[str, Any]) -> None:
        """A pretext whose task stayed at chance says so (there is no test accuracy)."""
        chance = getattr(trainer.method, "task_chance", dict)()
        records = read_jsonl(trainer.run / "metrics.jsonl") if chance else []
        if records:
            summary["warnings"] = pretext_warnings(
                trainer.method.name, records[-1], chance, trainer.method.stuck_reason)
