"""Self-labelling (Asano, Rupprecht & Vedaldi, "Self-labelling via simultaneous clustering
and representation learning", ICLR 2020): cluster and learn at once, the pseudo-labels from
an optimal-transport assignment that puts the same number of images in every cluster
(Sinkhorn-Knopp), instead of k-means, whose degenerate solution (one cluster) is what a
network trained on its own clusters slides into.

The paper solves the equipartition over the whole data set every few epochs. A streaming
pool has no whole-data pass between steps, so we solve it on each batch, as SwAV (Caron et
al. 2020) does, and each augmented view learns the labels of the other view of the same
images (SeLa's labels belong to the image, not to one augmentation). Labels are hard
(argmax of the assignment), as in SeLa.

Collapse signal: the entropy of the cluster sizes of the network's own predictions on the
batch, divided by its maximum (1: every cluster the same size; 0: every image in one).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from tinyssl.augment.views import simclr_views
from tinyssl.methods.base import Batch, StepOutput
from tinyssl.methods.heads import CollapseWarning, PretextMethod, mlp
from tinyssl.models import Net


@torch.no_grad()
def sinkhorn(scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """N×K scores → N×K assignments: rows sum to 1, every column to N/K (equipartition).

    Entropy-regularised optimal transport: start from exp(scores/epsilon) and alternately
    rescale columns and rows (log domain, so a small epsilon cannot overflow). Ten lines of
    matrix scaling: not worth a dependency (POT) on the training path."""
    n, k = scores.shape
    log_q = scores.float() / epsilon
    for _ in range(iterations):
        log_q = log_q - log_q.logsumexp(0, keepdim=True) + math.log(n / k)  # columns: N/K
        log_q = log_q - log_q.logsumexp(1, keepdim=True)  # rows: 1
    return log_q.exp()


def cluster_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the predicted-cluster sizes over the batch, normalised to [0, 1]."""
    n, k = logits.shape
    sizes = torch.bincount(logits.detach().argmax(1), minlength=k).float() / n
    entropy = -(sizes * sizes.clamp(min=1e-12).log()).sum()
    return entropy / math.log(max(2, min(n, k)))


class SelfLabel(PretextMethod):
    """Options: clusters (K, 32), epsilon (Sinkhorn regularisation, 0.05), sinkhorn_iters
    (3), temperature (of the trained softmax, 0.1), min_entropy (warn when the normalised
    cluster-size entropy falls below it, 0.5), proj_hidden (256), strength, crop_min, blur
    (SimCLR views), flip, collapse_threshold, check_every."""

    name = "selflabel"

    def __init__(self, net: Net, num_classes: int, clusters: int = 32, epsilon: float = 0.05,
                 sinkhorn_iters: int = 3, temperature: float = 0.1, min_entropy: float = 0.5,
                 proj_hidden: int = 256, strength: float = 0.5, crop_min: float = 0.2,
                 blur: bool = True, **options: Any) -> None:
        super().__init__(net, num_classes, **options)
        if clusters < 2 or epsilon <= 0 or sinkhorn_iters < 1 or temperature <= 0:
            raise ValueError("selflabel needs clusters >= 2, epsilon > 0, sinkhorn_iters >= 1 "
                             "and temperature > 0.")
        self.options.update(clusters=clusters, epsilon=epsilon, sinkhorn_iters=sinkhorn_iters,
                            temperature=temperature, min_entropy=min_entropy,
                            proj_hidden=proj_hidden, strength=strength, crop_min=crop_min,
                            blur=blur)
        self.epsilon, self.sinkhorn_iters = epsilon, sinkhorn_iters
        self.temperature, self.min_entropy = temperature, min_entropy
        self.view_args = (self.flip, float(strength), float(crop_min), bool(blur))
        self.head = mlp(self.feature_dim, proj_hidden, clusters)

    def training_step(self, labeled: Batch | None, unlabeled: Batch | None,
                      progress: float) -> StepOutput:
        x = self.images(unlabeled)
        augment = simclr_views(x.shape[-1], *self.view_args)
        h = self.features(torch.cat([augment(x), augment(x)]))
        logits = self.head(h).float()
        labels = sinkhorn(logits.detach(), self.epsilon, self.sinkhorn_iters).argmax(1)
        swapped = torch.cat(labels.chunk(2)[::-1])  # view 1 learns view 2's labels and back
        loss = F.cross_entropy(logits / self.temperature, swapped)
        entropy = cluster_entropy(logits)
        self._check_entropy(entropy)
        return self.output(loss, h, cluster_entropy=entropy)

    def _check_entropy(self, entropy: torch.Tensor) -> None:
        """Every `check_every` steps (same cadence as the embedding check): warn on collapse."""
        if self._steps % self.check_every == 0 and entropy.item() < self.min_entropy:
            warnings.warn(f"selflabel: the clusters are collapsing (normalised cluster-size "
                          f"entropy {entropy.item():.2f} < {self.min_entropy}); try more "
                          "Sinkhorn iterations, a larger batch or a lower lr.",
                          CollapseWarning, stacklevel=3)
