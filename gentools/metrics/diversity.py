"""Class-histogram diversity of generated samples (the diversity-by-entropy-and-Gini literature, mode counting).

Counts ``c_k`` of each class over a universe of K classes, ``p_k = c_k / Σc``:

- ``class_entropy = −Σ_{p_k>0} p_k log p_k`` (nats);
- ``class_gini = Σ_i Σ_j |c_i − c_j| / (2 K Σ_k c_k)`` (0 = uniform, → 1 = one class);
- ``modes = #{k : c_k > 0}`` (Stacked-MNIST convention: classes hit at least once);
- ``class_kl = Σ_{p_k>0} p_k log(p_k / q_k)`` against a reference histogram ``q``.
"""

from __future__ import annotations

import numpy as np

CLASS_ENTROPY, CLASS_GINI, MODES, CLASS_KL = "class_entropy", "class_gini", "modes", "class_kl"


def class_counts(classes, universe) -> np.ndarray:
    """``c_k`` for each class of ``universe`` (in its order); ``classes`` must all lie in it."""
    index = {k: i for i, k in enumerate(universe)}
    counts = np.zeros(len(universe), dtype=np.int64)
    for c in classes:
        counts[index[c]] += 1
    return counts


def histogram_diversity(counts: np.ndarray) -> dict:
    """``class_entropy``, ``class_gini`` and ``modes`` of class counts ``(K,)``."""
    counts = np.asarray(counts, dtype=np.float64)
    total, k = counts.sum(), len(counts)
    p = counts[counts > 0] / total
    # sum_ij |c_i - c_j| = 2 sum_i (2i - K + 1) c_(i) over the ascending counts: O(K log K), no K x K matrix
    pair_sum = 2 * np.dot(2 * np.arange(k) - k + 1, np.sort(counts))
    gini = pair_sum / (2 * k * total)
    return {CLASS_ENTROPY: float(-(p * np.log(p)).sum()), CLASS_GINI: float(gini), MODES: int((counts > 0).sum())}


def class_kl(counts: np.ndarray, ref_counts: np.ndarray) -> float:
    """``Σ_{p_k>0} p_k log(p_k / q_k)`` of the two normalised histograms; ``q_k = 0 < p_k`` raises ``ValueError``
    naming the first such class position."""
    p = np.asarray(counts, dtype=np.float64) / np.sum(counts)
    q = np.asarray(ref_counts, dtype=np.float64) / np.sum(ref_counts)
    bad = np.flatnonzero((p > 0) & (q == 0))
    if len(bad):
        raise ValueError(int(bad[0]))
    mask = p > 0
    return float((p[mask] * np.log(p[mask] / q[mask])).sum())
