"""Two-sample tests: is the generated set drawn from the reference distribution?

- ``mmd``: unbiased MMD² with a Gaussian kernel (Gretton et al. 2012, "A
  kernel two-sample test"), bandwidth by the median heuristic.
- ``energy``: energy distance ``2E|X-Y| - E|X-X'| - E|Y-Y'|`` (Székely &
  Rizzo 2013), V-statistic (as ``scipy.stats.energy_distance``, which returns
  its square root).
- ``c2st``: classifier two-sample test (Lopez-Paz & Oquab 2017): held-out
  accuracy of a classifier telling the sets apart, one-sided binomial p-value.

Permutation tests compute the pooled kernel/distance matrix once; all
relabellings are evaluated together as ``Sᵀ K S`` column sums (one GEMM).
``p = (1 + #{T_perm >= T_obs}) / (1 + B)``.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from scipy import stats

from gentools.metrics._pairwise import iter_sq_distances, sq_norms

PERMUTATION_BLOCK = 64  # relabellings per GEMM


def pooled_sq_distances(z: np.ndarray) -> np.ndarray:
    """All pairwise squared distances of the pooled sample, float64, diagonal exactly 0."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty((len(z), len(z)))
    norms = sq_norms(z)
    for rows, block in iter_sq_distances(z, z, a_norms=norms, b_norms=norms):
        out[rows] = block
    np.fill_diagonal(out, 0.0)
    return out


def median_bandwidth(d2: np.ndarray) -> float:
    """Median heuristic: the median pairwise distance (off-diagonal) of the pooled sample."""
    upper = d2[np.triu_indices(len(d2), k=1)]
    return float(np.sqrt(np.median(upper)))


def _block_sums(matrix: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For 0/1 label columns ``labels`` (N, B): sums of the XX, YY and XY blocks of ``matrix``."""
    s = labels.astype(np.float64)
    ks = matrix @ s
    total = matrix.sum()
    xx = np.einsum("ij,ij->j", s, ks)
    row_x = ks.sum(axis=0)  # 1ᵀ K s = sum over all rows of X columns
    xy = row_x - xx
    yy = total - xx - 2 * xy
    return xx, yy, xy


def mmd2_statistic(kernel: np.ndarray, labels: np.ndarray, m: int, n: int) -> np.ndarray:
    """Unbiased MMD² for each label column (kernel diagonal is 1)."""
    xx, yy, xy = _block_sums(kernel, labels)
    return (xx - m) / (m * (m - 1)) + (yy - n) / (n * (n - 1)) - 2 * xy / (m * n)


def energy_statistic(dist: np.ndarray, labels: np.ndarray, m: int, n: int) -> np.ndarray:
    """Energy distance (V-statistic) for each label column."""
    xx, yy, xy = _block_sums(dist, labels)
    return 2 * xy / (m * n) - xx / (m * m) - yy / (n * n)


def permutation_test(matrix: np.ndarray, m: int, statistic, permutations: int, seed: int,
                     progress: Optional[Callable[[int], None]] = None) -> tuple[float, float]:
    """``(T_obs, p)`` with ``permutations`` seeded relabellings of the pooled sample (first ``m`` rows are X)."""
    n = len(matrix) - m
    truth = np.zeros((len(matrix), 1))
    truth[:m] = 1
    observed = float(statistic(matrix, truth, m, n)[0])
    rng = np.random.RandomState(seed)
    exceed = 0
    for start in range(0, permutations, PERMUTATION_BLOCK):
        count = min(PERMUTATION_BLOCK, permutations - start)
        labels = np.zeros((len(matrix), count))
        for j in range(count):
            labels[rng.permutation(len(matrix))[:m], j] = 1
        exceed += int(np.sum(statistic(matrix, labels, m, n) >= observed))
        if progress:
            progress(count)
    return observed, (1 + exceed) / (1 + permutations)


def mmd_test(x, y, permutations: int, seed: int, bandwidth=None, progress=None) -> dict:
    z = np.concatenate([x, y]).astype(np.float64)
    d2 = pooled_sq_distances(z)
    sigma = bandwidth or median_bandwidth(d2)
    kernel = np.exp(-d2 / (2 * sigma ** 2))
    value, p = permutation_test(kernel, len(x), mmd2_statistic, permutations, seed, progress)
    return {"statistic": value, "p_value": p, "bandwidth": sigma}


def energy_test(x, y, permutations: int, seed: int, progress=None) -> dict:
    z = np.concatenate([x, y]).astype(np.float64)
    dist = np.sqrt(pooled_sq_distances(z))
    value, p = permutation_test(dist, len(x), energy_statistic, permutations, seed, progress)
    return {"statistic": value, "p_value": p}


def c2st(x, y, classifier: str, test_fraction: float, seed: int) -> dict:
    """Held-out accuracy of a classifier separating ``x`` from ``y``; binomial p-value against 1/2.

    Labels are balanced by subsampling the larger set; the split is stratified;
    features are standardised on the training split.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(seed)
    size = min(len(x), len(y))
    x = x[rng.choice(len(x), size, replace=False)] if len(x) > size else x
    y = y[rng.choice(len(y), size, replace=False)] if len(y) > size else y
    data = np.concatenate([x, y]).astype(np.float64)
    labels = np.r_[np.zeros(size), np.ones(size)]
    train_x, test_x, train_y, test_y = train_test_split(data, labels, test_size=test_fraction,
                                                        stratify=labels, random_state=seed)
    model = make_pipeline(StandardScaler(), _classifier(classifier, seed))
    model.fit(train_x, train_y)
    correct = int(np.sum(model.predict(test_x) == test_y))
    p = stats.binomtest(correct, len(test_y), 0.5, alternative="greater").pvalue
    return {"statistic": correct / len(test_y), "p_value": float(p)}


def _classifier(name: str, seed: int):
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=2000)
    if name == "knn":
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=5)
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=(64,), max_iter=500, random_state=seed)
    raise ValueError(f"unknown classifier {name!r}: expected logistic, knn or mlp")
