"""MAUVE (Pillutla et al., NeurIPS 2021; JMLR 2023): the area under the divergence frontier of two histograms
over a joint k-means quantisation of the features, as mauve-text 0.4.0's ``compute_mauve(p_features,
q_features)`` defines it (read for its definition; this is our own code).

1. Stack Q above P, L2-normalise each row, fit a PCA on all of them and keep the fewest leading components whose
   explained variance reaches ``explained_variance`` (0.9); cast to float32 (:func:`reduce`).
2. k-means with ``k = num_buckets`` (auto: ``max(2, round(min(n_p, n_q) / 10))``): faiss ``Kmeans(d, k,
   niter=500, nredo=5, seed=seed + 2)``, each row to its nearest centroid; P's and Q's histograms over the
   buckets (and the smoothed ones, +0.5 per bucket, for the starred variants).
3. For 25 mixtures ``R = w P + (1 - w) Q``, ``w`` from 1e-6 to 1 - 1e-6, the point ``(exp(-c KL(Q||R)),
   exp(-c KL(P||R)))`` with ``c = 5``, plus the extreme points (0, 1) and (1, 0); MAUVE is the mean of the
   areas under the curve along either axis (trapezoids over the points sorted by that axis).
4. The frontier integral: ``2 * sum_i [ (p_i + q_i) / 4 - p_i q_i (log p_i - log q_i) / (2 (p_i - q_i)) ]``,
   a bucket with one side empty adding the other's mass / 4, equal masses (within 1e-8) adding nothing.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np


def num_buckets_for(p_rows: int, q_rows: int, given: int = 0) -> int:
    """``given``, or mauve's auto: ``max(2, round(min(n_p, n_q) / 10))``."""
    return given if given else max(2, int(round(min(p_rows, q_rows) / 10)))


def reduce(p: np.ndarray, q: np.ndarray, explained_variance: float = 0.9, seed: int = 25) -> np.ndarray:
    """Q's rows then P's, L2-normalised, projected on the leading principal components that explain
    ``explained_variance`` of the variance, as float32.

    With more rows than dimensions the components are the eigenvectors of the covariance, in float64 (3x faster
    than the SVD of the rows that scikit-learn's PCA runs for mauve-text on 1,280-d features, and without its
    float32 rounding), each signed as scikit-learn signs them (its largest entry positive), so the projected rows
    are mauve-text's to its float32 rounding (3e-5 on 10,000 x 1,280) and the k-means buckets the same (in every
    test and benchmark so far). With fewer rows, scikit-learn's PCA itself, as mauve-text."""
    from sklearn.preprocessing import normalize

    data = normalize(np.vstack([q, p]), norm="l2", axis=1)
    if len(data) < data.shape[1]:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=None, whiten=False, random_state=seed + 1).fit(data)
        keep = int(np.argmax(np.cumsum(pca.explained_variance_ratio_) >= explained_variance)) + 1
        return pca.transform(data)[:, :keep].astype(np.float32)
    rows = data.astype(np.float64)
    mean = rows.mean(axis=0)
    covariance = (rows.T @ rows - len(rows) * np.outer(mean, mean)) / (len(rows) - 1)
    values, vectors = np.linalg.eigh(covariance)
    values, vectors = values[::-1].clip(min=0), vectors[:, ::-1]
    keep = int(np.argmax(np.cumsum(values / values.sum()) >= explained_variance)) + 1
    components = vectors[:, :keep].T
    components *= np.sign(components[np.arange(keep), np.argmax(np.abs(components), axis=1)])[:, None]
    return ((rows - mean) @ components.T).astype(np.float32)


def quantise(data: np.ndarray, buckets: int, seed: int = 25, redo: int = 5, iterations: int = 500,
             backend: str = "faiss") -> np.ndarray:
    """Each row's k-means bucket: faiss (mauve's settings: ``Kmeans(d, k, niter, nredo, seed=seed + 2)``, the
    best of ``redo`` runs) or scikit-learn's ``KMeans`` (``n_init=redo``, ``random_state=seed + 2``)."""
    if backend == "faiss":
        import faiss

        # min_points_per_centroid only silences faiss' stderr warning (auto buckets hold ~10 rows, under its 39)
        kmeans = faiss.Kmeans(data.shape[1], buckets, niter=iterations, verbose=False, nredo=redo,
                              update_index=True, seed=seed + 2, min_points_per_centroid=1)
        kmeans.train(data)
        return kmeans.index.search(data, 1)[1].reshape(-1)
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=buckets, n_init=redo, max_iter=iterations, random_state=seed + 2).fit_predict(data)


def histograms(labels: np.ndarray, q_rows: int, buckets: int) -> tuple:
    """``(p, q, p smoothed, q smoothed)``: each side's share of rows per bucket (smoothed: +0.5 per bucket)."""
    q_counts = np.bincount(labels[:q_rows], minlength=buckets).astype(np.float64)
    p_counts = np.bincount(labels[q_rows:], minlength=buckets).astype(np.float64)
    return (p_counts / p_counts.sum(), q_counts / q_counts.sum(),
            (p_counts + 0.5) / (p_counts + 0.5).sum(), (q_counts + 0.5) / (q_counts + 0.5).sum())


def _kl(a: np.ndarray, b: np.ndarray) -> float:
    if np.any((a != 0) & (b == 0)):
        return math.inf
    both = (a != 0) & (b != 0)
    return float(np.sum(a[both] * np.log(a[both] / b[both])))


def divergence_curve(p: np.ndarray, q: np.ndarray, points: int = 25, scaling: float = 5.0) -> np.ndarray:
    """``(points + 2, 2)``: ``exp(-c KL(Q||R)), exp(-c KL(P||R))`` for ``R = w P + (1 - w) Q``, with the ends."""
    curve = [[0.0, math.inf]]
    for w in np.linspace(1e-6, 1 - 1e-6, points):
        mixture = w * p + (1 - w) * q
        curve.append([_kl(q, mixture), _kl(p, mixture)])
    curve.append([math.inf, 0.0])
    return np.exp(-scaling * np.asarray(curve))


def _area(x: np.ndarray, y: np.ndarray) -> float:
    order = np.argsort(x)
    return float(np.trapezoid(y[order], x[order]))


def area(curve: np.ndarray) -> float:
    """The mean of the areas under ``curve`` along its x and along its y axis."""
    x, y = curve.T
    return 0.5 * (_area(x, y) + _area(y, x))


def frontier_integral(p: np.ndarray, q: np.ndarray, scaling: float = 2.0) -> float:
    """The frontier integral (Liu et al. 2021) of two histograms (module docstring, step 4)."""
    total = 0.0
    for a, b in zip(p, q):
        if a == 0 and b == 0:
            continue
        if a == 0 or b == 0:
            total += (a + b) / 4
        elif abs(a - b) > 1e-8:
            total += 0.25 * (a + b) - 0.5 * a * b * (math.log(a) - math.log(b)) / (a - b)
    return total * scaling


def mauve(p: np.ndarray, q: np.ndarray, num_buckets: int = 0, explained_variance: float = 0.9, seed: int = 25,
          redo: int = 5, iterations: int = 500, points: int = 25, scaling: float = 5.0, backend: str = "faiss",
          reduced: Optional[np.ndarray] = None) -> dict:
    """``mauve``, ``frontier_integral``, ``mauve_star``, ``frontier_integral_star`` and ``num_buckets`` of P
    (the generated rows) against Q (the reference rows); ``reduced``: step 1's output, when already made."""
    buckets = num_buckets_for(len(p), len(q), num_buckets)
    data = reduce(p, q, explained_variance, seed) if reduced is None else reduced
    labels = quantise(data, buckets, seed, redo, iterations, backend)
    p_hist, q_hist, p_smooth, q_smooth = histograms(labels, len(q), buckets)
    return {"mauve": area(divergence_curve(p_hist, q_hist, points, scaling)),
            "frontier_integral": frontier_integral(p_hist, q_hist),
            "mauve_star": area(divergence_curve(p_smooth, q_smooth, points, scaling)),
            "frontier_integral_star": frontier_integral(p_smooth, q_smooth),
            "num_buckets": buckets}
