"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs").

Tested against torch-fidelity ``isc_features_to_metric`` to 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

IS_MEAN, IS_STD = "is_mean", "is_std"


def inception_score(logits: np.ndarray, splits: int, shuffle: bool, seed: int,
                    split_size: int = 0) -> dict:
    """``exp(E_x KL(p(y|x) || p(y)))`` per split; mean and std (ddof=0) over splits.

    ``p = softmax(logits)`` in float64 over all classes (Inception: the 1008
    unbiased logits). Rows are permuted with ``RandomState(seed).permutation(N)``
    unless ``shuffle=False``; split ``i`` is rows ``[i*N//s, (i+1)*N//s)``.
    ``split_size > 0`` instead cuts consecutive chunks of that many rows (the
    last one shorter), as the ADM evaluator. ``logits: (N, C)``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    n = len(logits)
    if not split_size and (splits < 1 or splits > n):
        raise ValueError(f"splits must be between 1 and the number of rows ({n}), got {splits}")
    if shuffle:
        logits = logits[np.random.RandomState(seed).permutation(n)]
    log_p = log_softmax(logits, axis=1)
    p = np.exp(log_p)
    scores = []
    bounds = ([(i, min(i + split_size, n)) for i in range(0, n, split_size)] if split_size
              else [(i * n // splits, (i + 1) * n // splits) for i in range(splits)])
    for start, stop in bounds:
        rows = slice(start, stop)
        log_q = np.log(p[rows].mean(axis=0, keepdims=True))
        kl = (p[rows] * (log_p[rows] - log_q)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return {IS_MEAN: float(np.mean(scores)), IS_STD: float(np.std(scores))}
