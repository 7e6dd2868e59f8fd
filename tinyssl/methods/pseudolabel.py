"""`--method pseudolabel`: pseudo-label growth (a training callback, see
tinyssl/train/callbacks/growth.py) on top of plain supervised training."""

from __future__ import annotations

from tinyssl.methods.supervised import Supervised


class PseudoLabel(Supervised):
    """Supervised loss; the trainer grows the labelled set (train/callbacks/growth.py)."""

    name = "pseudolabel"
