"""Nearest neighbours in feature space and memorisation statistics.

- ``nn_ratio_median``: median nearest-training distance of generated samples
  over that of held-out test samples (< 1: closer than fresh data).
- ``copies``: fraction of generated samples nearer to the training set than
  the 1st percentile of test→train nearest distances.
- ``authenticity`` (Alaa et al. 2022, "How faithful is your synthetic
  data?"): fraction of generated y with d(y, x*) > d(x*, NN_train(x*)),
  x* = y's nearest training sample.
- ``ct_z`` (Meehan et al. 2020, "A non-parametric test to detect
  data-copying"): k-means cells on the training set; per cell the Mann–Whitney
  U z-score of generated vs test nearest-training distances; combined weighted
  by each cell's share of test samples over cells holding enough generated
  samples. Strongly negative: data-copying.
"""

from __future__ import annotations

import numpy as np

from gentools.metrics._pairwise import DEFAULT_BUDGET, iter_sq_distances, kth_neighbour_sq_radii, l2_normalise, sq_norms


def _prepare(x: np.ndarray, metric: str) -> np.ndarray:
    return l2_normalise(x, np.float32) if metric == "cosine" else np.asarray(x, dtype=np.float32)


def nearest(queries: np.ndarray, train: np.ndarray, k: int = 1, metric: str = "euclidean",
            budget: int = DEFAULT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, distances)`` ``(len(queries), k)`` of each query's k nearest rows of ``train``, ascending.

    Cosine distance is ``1 - cos``, from unit-normalised rows (``|a-b|²/2``).
    """
    q, t = _prepare(queries, metric), _prepare(train, metric)
    k = min(k, len(t))
    indices = np.empty((len(q), k), dtype=np.int64)
    dist2 = np.empty((len(q), k))
    t_norms = sq_norms(t)
    for rows, d2 in iter_sq_distances(q, t, budget, b_norms=t_norms):
        part = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < d2.shape[1] else np.tile(np.arange(k), (len(d2), 1))
        values = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(values, axis=1, kind="stable")
        indices[rows] = np.take_along_axis(part, order, axis=1)
        dist2[rows] = np.take_along_axis(values, order, axis=1)
    distances = dist2 / 2 if metric == "cosine" else np.sqrt(dist2)
    return indices, distances


def authenticity(gen_idx: np.ndarray, gen_d: np.ndarray, train: np.ndarray, metric: str = "euclidean") -> float:
    """Fraction of generated rows farther from their nearest training row x* than x* is from its own
    nearest training neighbour (``gen_idx``, ``gen_d``: each generated row's nearest training row, distance)."""
    own = np.sqrt(kth_neighbour_sq_radii(_prepare(train, metric).astype(np.float64), 1))
    if metric == "cosine":
        own = own ** 2 / 2
    return float(np.mean(gen_d > own[gen_idx]))


def mann_whitney_z(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``(U, z)``: U = #{a_i > b_j} + ½ #{ties} (scipy's U for ``a``), z by the normal approximation."""
    from scipy.stats import rankdata

    m, n = len(a), len(b)
    ranks = rankdata(np.concatenate([a, b]))
    u = float(ranks[:m].sum() - m * (m + 1) / 2)
    z = (u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12)
    return u, float(z)


def memorisation(gen: np.ndarray, train: np.ndarray, test: np.ndarray, cells: int, seed: int,
                 min_cell: int = 5, metric: str = "euclidean") -> dict:
    """``nn_ratio_median``, ``copies``, ``authenticity`` and ``ct_z`` (see the module docstring)."""
    from sklearn.cluster import KMeans

    gen_idx, gen_d = nearest(gen, train, 1, metric)
    test_idx, test_d = nearest(test, train, 1, metric)
    gen_idx, gen_d, test_d = gen_idx[:, 0], gen_d[:, 0], test_d[:, 0]
    out = {"nn_ratio_median": float(np.median(gen_d) / np.median(test_d)) if np.median(test_d) > 0 else float("inf"),
           "copies": float(np.mean(gen_d < np.percentile(test_d, 1))),
           "authenticity": authenticity(gen_idx, gen_d, train, metric)}
    kmeans = KMeans(n_clusters=min(cells, len(train)), n_init=10, random_state=seed).fit(_prepare(train, metric))
    gen_cells, test_cells = kmeans.predict(_prepare(gen, metric)), kmeans.predict(_prepare(test, metric))
    zs, weights = [], []
    for c in range(kmeans.n_clusters):
        g, t = gen_d[gen_cells == c], test_d[test_cells == c]
        if len(g) >= min_cell and len(t) >= min_cell:
            zs.append(mann_whitney_z(g, t)[1])
            weights.append(len(t) / len(test_d))
    out["ct_z"] = float(np.dot(weights, zs) / np.sum(weights)) if zs else float("nan")
    return out
