"""Selection rules: which pool images to label, from their feature vectors.

Every rule takes L2-normalised features of the pool (N×D float32), the budget, the
positions already labelled (never picked again; they count as covering their neighbourhood)
and a seed, and returns a `Picks`. Clustering and neighbour search are scikit-learn's;
what is written here is only the published selection logic on top of them:

- `typiclust` (Hacohen et al., ICML 2022): k-means into labelled + budget clusters, then
  the most *typical* image (highest inverse mean distance to its k nearest neighbours) of
  each of the largest clusters holding no labelled image. Typical images of distinct
  clusters are what a few labels should be at budgets of 1–10 per class.
- `typicover` (tinyssl's variant of TypiClust, the default of `tinyssl select`): k-means
  into 3× as many clusters, the most typical image of each as a candidate, then the
  candidates that best *cover* the pool, picked greedily (k-medians over the candidates,
  each standing for its cluster's images). TypiClust's "largest clusters first" sends
  every pick to the densest look-alike images: on the malaria cells both picks at 1 label
  per class are uninfected cells on every seed (they are the density peak of every
  cluster). Covering the cluster mass instead keeps the picks typical but spread, which
  covers both classes on 4 of 5 seeds (results/select-rules.md).
- `probcover` (Yehuda et al., NeurIPS 2022): greedy maximum coverage of δ-balls; δ is the
  largest radius whose balls stay ≥ 95 % pure with respect to a k-means clustering (the
  paper's unsupervised purity proxy).
- `kcenter` (Sener & Savarese, ICLR 2018): farthest-first traversal, the classic coverage
  baseline.
- `uniform`: images drawn at random from the pool (no class balance: nobody knows the
  classes before labelling), the baseline.
- `uncertain` (next round, needs a trained model's class probabilities): the smallest
  margins between the top two classes, spread out by k-means over the most uncertain 10×
  budget candidates (one pick per cluster), as in the "margin + clustering" rules of
  BADGE/Cluster-Margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.neighbors import NearestNeighbors

#: Cold-start rules (features only) and next-round rules (features + probabilities);
#: "uniform" is labelling images drawn at random, the baseline a customer would otherwise use.
COLD_RULES = ("typicover", "typiclust", "probcover", "kcenter")
NEXT_RULES = ("uncertain",)
RULES = ("uniform", *COLD_RULES, *NEXT_RULES)
TYPICALITY_K = 20  # neighbours for typicality, as in the TypiClust paper
MIN_CLUSTER = 5  # clusters smaller than this are outliers, picked only when nothing else is left
CANDIDATES_PER_PICK = 3  # typicover's clusters per pick (2 and 4 measured worse, results/select.md)
PURITY = 0.95


@dataclass
class Picks:
    """Positions into the pool, in the order picked, with the cluster (or -1) and the score
    that ranked each (typicality, covered images, distance, or margin: see the rule)."""

    index: np.ndarray
    cluster: np.ndarray
    score: np.ndarray


def normalise(features: np.ndarray) -> np.ndarray:
    """float32 rows of unit length (cosine geometry, as the papers use for SSL features)."""
    f = np.asarray(features, dtype=np.float32)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def _neighbours(features: np.ndarray, **options: int) -> NearestNeighbors:
    """A fitted NearestNeighbors; scikit-learn is imported where it is used, so the CLI that
    lists the rules starts fast."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(**options).fit(features)


def _kmeans(features: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cluster labels; MiniBatchKMeans beyond 50 clusters or 20k images, as TypiClust does."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    k = min(k, len(features))
    if k > 50 or len(features) > 20_000:
        model = MiniBatchKMeans(k, random_state=seed, n_init=3, batch_size=4096)
    else:
        model = KMeans(k, random_state=seed, n_init=3)
    return model.fit_predict(features)


def _typicality(features: np.ndarray) -> np.ndarray:
    """1 / mean distance to the k nearest other points (k = min(20, n − 1))."""
    if len(features) == 1:
        return np.ones(1)
    k = min(TYPICALITY_K, len(features) - 1)
    dist, _ = _neighbours(features, n_neighbors=k + 1).kneighbors(features)
    return 1.0 / (dist[:, 1:].mean(axis=1) + 1e-8)


def random_picks(n: int, budget: int, labeled: np.ndarray, seed: int) -> Picks:
    free = np.setdiff1d(np.arange(n), labeled)
    index = np.random.default_rng(seed).choice(free, size=budget, replace=False)
    return Picks(index, np.full(budget, -1), np.zeros(budget))


def _most_typical(features: np.ndarray, members: np.ndarray) -> tuple[int, float]:
    """The member with the highest typicality within `members`, and that typicality."""
    typical = _typicality(features[members])
    best = int(np.argmax(typical))
    return int(members[best]), float(typical[best])


def _fill_typical(features: np.ndarray, clusters: np.ndarray, labeled: np.ndarray,
                  picks: Picks, budget: int) -> Picks:
    """Top up `picks` with the most typical remaining images when k-means made fewer usable
    clusters than the budget (duplicate images, or a pool of look-alikes)."""
    missing = budget - len(picks.index)
    if missing <= 0:
        return picks
    rest = np.setdiff1d(np.arange(len(features)), np.concatenate([labeled, picks.index]))
    typical = _typicality(features)[rest]
    best = np.argsort(-typical, kind="stable")[:missing]
    return Picks(np.concatenate([picks.index, rest[best]]).astype(np.int64),
                 np.concatenate([picks.cluster, clusters[rest[best]]]),
                 np.concatenate([picks.score, typical[best]]))


def typiclust(features: np.ndarray, budget: int, labeled: np.ndarray, seed: int) -> Picks:
    clusters = _kmeans(features, len(labeled) + budget, seed)
    sizes = np.bincount(clusters)
    uncovered = np.setdiff1d(np.flatnonzero(sizes), clusters[labeled])
    # largest first; clusters under MIN_CLUSTER images (outliers) only after all larger ones
    order = sorted(uncovered, key=lambda c: (sizes[c] < MIN_CLUSTER, -sizes[c], c))[:budget]
    best = [_most_typical(features, np.flatnonzero(clusters == c)) for c in order]
    picks = Picks(np.asarray([i for i, _ in best], np.int64), np.asarray(order, np.int64),
                  np.asarray([t for _, t in best], float))
    return _fill_typical(features, clusters, labeled, picks, budget)


def typicover(features: np.ndarray, budget: int, labeled: np.ndarray, seed: int) -> Picks:
    """Greedy k-medians over the clusters' most typical images: each candidate stands for
    its cluster's n images, and the next pick is the candidate that most lowers the total
    n × (distance to the nearest pick or labelled image). Written out because scikit-learn
    has no weighted k-medoids over a fixed candidate set, and it is ten lines."""
    from sklearn.metrics import pairwise_distances

    clusters = _kmeans(features, CANDIDATES_PER_PICK * (len(labeled) + budget), seed)
    free = np.ones(len(features), dtype=bool)
    free[labeled] = False
    # every cluster is a candidate: a small one (an outlier) carries little mass, so it
    # gains little, and small pools keep enough candidates
    ids = np.unique(clusters[free])
    best = [_most_typical(features, np.flatnonzero(free & (clusters == c))) for c in ids]
    candidates = np.asarray([i for i, _ in best], np.int64)
    mass = np.bincount(clusters)[ids].astype(float)
    between = pairwise_distances(features[candidates])
    if len(labeled):  # labelled images already serve their neighbourhood
        nearest = pairwise_distances(features[candidates], features[labeled]).min(axis=1)
    else:  # nothing served yet: the first pick is the weighted 1-median
        nearest = np.full(len(candidates), between.max(initial=0.0) * 2 + 1.0)
    chosen: list[int] = []
    for _ in range(min(budget, len(candidates))):
        gain = (mass[:, None] * np.maximum(nearest[:, None] - between, 0.0)).sum(axis=0)
        gain[chosen] = -1.0
        j = int(np.argmax(gain))
        chosen.append(j)
        nearest = np.minimum(nearest, between[:, j])
    picks = Picks(candidates[chosen], ids[chosen].astype(np.int64),
                  np.asarray([best[j][1] for j in chosen], float))
    return _fill_typical(features, clusters, labeled, picks, budget)


def _purity_radius(features: np.ndarray, clusters: np.ndarray, seed: int) -> float:
    """Largest δ (on a grid) whose balls around a sample of points hold ≥ 95 % one cluster."""
    rng = np.random.default_rng(seed)
    probe = rng.choice(len(features), size=min(2000, len(features)), replace=False)
    nn = _neighbours(features)
    best = 0.05
    for delta in np.arange(0.05, 1.45, 0.05):
        balls = nn.radius_neighbors(features[probe], radius=delta, return_distance=False)
        pure = np.mean([np.all(clusters[b] == clusters[p]) for b, p in
                        zip(balls, probe, strict=True)])
        if pure < PURITY:
            break
        best = float(delta)
    return best


def probcover(features: np.ndarray, budget: int, labeled: np.ndarray, seed: int,
              num_classes: int) -> Picks:
    clusters = _kmeans(features, num_classes, seed)
    delta = _purity_radius(features, clusters, seed)
    balls = _neighbours(features).radius_neighbors(
        features, radius=delta, return_distance=False)
    covered = np.zeros(len(features), dtype=bool)
    for i in labeled:
        covered[balls[i]] = True
    taken = np.zeros(len(features), dtype=bool)
    taken[labeled] = True
    gain = np.array([len(b) for b in balls], dtype=np.int64) - np.array(
        [covered[b].sum() for b in balls], dtype=np.int64)
    index, score = [], []
    rng = np.random.default_rng(seed)
    for _ in range(budget):
        candidates = np.where(taken, -1, gain)
        if candidates.max() <= 0:  # everything covered: the rest at random, as the paper does
            i = int(rng.choice(np.flatnonzero(~taken)))
        else:
            i = int(np.argmax(candidates))
        index.append(i)
        score.append(max(int(candidates[i]), 0))
        taken[i] = True
        newly = balls[i][~covered[balls[i]]]
        covered[newly] = True
        for j in newly:  # every ball holding a newly covered point gains one less
            gain[balls[j]] -= 1
    return Picks(np.asarray(index), clusters[np.asarray(index)], np.asarray(score, float))


def kcenter(features: np.ndarray, budget: int, labeled: np.ndarray, seed: int) -> Picks:
    if len(labeled):
        nn = _neighbours(features[labeled], n_neighbors=1)
        nearest = nn.kneighbors(features)[0][:, 0]
    else:  # no centres yet: start from the image nearest the mean (deterministic, typical)
        nearest = np.full(len(features), np.inf)
    index, score = [], []
    for _ in range(budget):
        if np.isinf(nearest).all():
            i = int(np.argmin(np.linalg.norm(features - features.mean(0), axis=1)))
        else:
            i = int(np.argmax(nearest))
        index.append(i)
        score.append(float(nearest[i]) if np.isfinite(nearest[i]) else 0.0)
        nearest = np.minimum(nearest, np.linalg.norm(features - features[i], axis=1))
        nearest[i] = -1.0
    return Picks(np.asarray(index), np.full(budget, -1), np.asarray(score))


def uncertain(features: np.ndarray, probs: np.ndarray, budget: int, labeled: np.ndarray,
              seed: int) -> Picks:
    top2 = np.sort(probs, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    margin[labeled] = np.inf
    free = int(np.isfinite(margin).sum())
    candidates = np.argsort(margin, kind="stable")[:min(free, 10 * budget)]
    clusters = _kmeans(features[candidates], budget, seed)
    index, cluster, score = [], [], []
    for c in range(clusters.max() + 1):
        members = candidates[clusters == c]
        if len(members):
            best = members[np.argmin(margin[members])]
            index.append(best)
            cluster.append(c)
            score.append(margin[best])
    order = np.argsort(score, kind="stable")[:budget]
    return Picks(np.asarray(index)[order], np.asarray(cluster)[order], np.asarray(score)[order])


def select(rule: str, features: np.ndarray, budget: int, labeled: np.ndarray | None = None,
           seed: int = 0, probs: np.ndarray | None = None, num_classes: int | None = None
           ) -> Picks:
    """Pick `budget` pool positions by `rule` (see RULES); `labeled` positions are excluded."""
    if rule not in RULES:
        raise ValueError(f"unknown selection rule '{rule}'; choose from {', '.join(RULES)}.")
    labeled = np.zeros(0, dtype=np.int64) if labeled is None else np.asarray(labeled, np.int64)
    free = len(features) - len(np.unique(labeled))
    if budget < 1 or budget > free:
        raise ValueError(f"cannot select {budget} images from a pool of {free} unlabelled "
                         f"image(s); the budget must be between 1 and {free}.")
    if rule == "uniform":
        return random_picks(len(features), budget, labeled, seed)
    f = normalise(features)
    if rule == "uncertain":
        if probs is None:
            raise ValueError("the uncertain rule needs a trained run's predictions (--run).")
        return uncertain(f, probs, budget, labeled, seed)
    if rule == "typiclust":
        return typiclust(f, budget, labeled, seed)
    if rule == "typicover":
        return typicover(f, budget, labeled, seed)
    if rule == "probcover":
        return probcover(f, budget, labeled, seed, num_classes or max(2, budget))
    return kcenter(f, budget, labeled, seed)
