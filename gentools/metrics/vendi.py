"""Vendi score (Friedman & Dieng 2023, "The Vendi Score: A Diversity Evaluation Metric for Machine Learning").

``exp(−Σ λ log λ)``, λ the eigenvalues of ``K/n`` with ``K = X Xᵀ`` of
L2-normalised rows, from the d×d matrix ``Xᵀ X / n`` when d < n (same non-zero
eigenvalues). Tested against the vendi-score package.
"""

from __future__ import annotations

import numpy as np

from gentools.metrics._pairwise import l2_normalise


def vendi_score(x: np.ndarray) -> float:
    x = l2_normalise(x)
    n, d = x.shape
    gram = x.T @ x / n if d < n else x @ x.T / n
    w = np.linalg.eigvalsh(gram)
    w = w[w > 0]
    return float(np.exp(-(w * np.log(w)).sum()))
