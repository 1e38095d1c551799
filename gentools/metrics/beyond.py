"""Metrics beyond the classic peers: CMMD, MiFID's memorisation penalty, the Vendi score.

- CMMD (Jayasumana et al. 2024, "Rethinking FID"): ``scale · (mean Kxx + mean Kyy − 2 mean Kxy)``,
  ``K = exp(−|a−b|² / (2σ²))``, σ = 10, scale = 1000, means over the full matrices (diagonals
  included: the authors' reference code); ``unbiased`` drops the diagonals. Chunked.
- MiFID (Kaggle's GAN competition; torchmetrics ``MemorizationInformedFrechetInceptionDistance``):
  ``m`` = mean over generated rows of the minimum cosine distance ``1 − |cos|`` to training rows
  (all-zero rows dropped); ``MiFID = FID / m`` when ``m < eps`` (0.1), else FID.
- Vendi score (Friedman & Dieng 2023): ``exp(−Σ λ log λ)``, λ the eigenvalues of ``K/n`` with
  ``K = X Xᵀ`` of L2-normalised rows, from the d×d matrix ``Xᵀ X / n`` when d < n.
"""

from __future__ import annotations

import numpy as np

from gentools.metrics._pairwise import DEFAULT_BUDGET, chunk_rows, iter_sq_distances, sq_norms

CMMD_SIGMA, CMMD_SCALE = 10.0, 1000.0
MIFID_EPS = 0.1


def _kernel_sum(a: np.ndarray, b: np.ndarray, sigma: float, budget: int, same: bool) -> tuple[float, float]:
    """Sum of the Gaussian kernel over all pairs, and over the diagonal when ``a is b``."""
    total = diagonal = 0.0
    a_norms, b_norms = sq_norms(a), sq_norms(b)
    for rows, d2 in iter_sq_distances(a, b, budget, a_norms, b_norms):
        k = np.exp(-d2.astype(np.float64) / (2 * sigma ** 2))
        total += float(k.sum())
        if same:
            diagonal += float(np.trace(k, offset=rows.start))
    return total, diagonal


def cmmd(x: np.ndarray, y: np.ndarray, sigma: float = CMMD_SIGMA, scale: float = CMMD_SCALE,
         unbiased: bool = False, budget: int = DEFAULT_BUDGET) -> float:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m, n = len(x), len(y)
    kxx, dxx = _kernel_sum(x, x, sigma, budget, True)
    kyy, dyy = _kernel_sum(y, y, sigma, budget, True)
    kxy, _ = _kernel_sum(x, y, sigma, budget, False)
    if unbiased:
        return scale * ((kxx - dxx) / (m * (m - 1)) + (kyy - dyy) / (n * (n - 1)) - 2 * kxy / (m * n))
    return scale * (kxx / (m * m) + kyy / (n * n) - 2 * kxy / (m * n))


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)


def memorisation_distance(gen: np.ndarray, train: np.ndarray, eps: float = MIFID_EPS,
                          budget: int = DEFAULT_BUDGET) -> tuple[float, float]:
    """``(m, penalty)``: mean min cosine distance of generated rows to training rows, and the
    divisor MiFID uses (``m`` if ``m < eps`` else 1)."""
    g = l2_normalise(gen[np.asarray(gen).sum(axis=1) != 0])
    t = l2_normalise(train[np.asarray(train).sum(axis=1) != 0])
    best = np.full(len(g), np.inf)
    step = chunk_rows(len(t), budget)
    for start in range(0, len(g), step):
        block = 1.0 - np.abs(g[start:start + step] @ t.T)
        best[start:start + step] = block.min(axis=1)
    m = float(best.mean())
    return m, (m if m < eps else 1.0)


def mifid(fid_value: float, penalty: float) -> float:
    """FID divided by the memorisation penalty (0 when FID is ~0, as torchmetrics)."""
    return fid_value / (penalty + 1e-14) if fid_value > 1e-8 else 0.0


def vendi_score(x: np.ndarray) -> float:
    x = l2_normalise(x)
    n, d = x.shape
    gram = x.T @ x / n if d < n else x @ x.T / n
    w = np.linalg.eigvalsh(gram)
    w = w[w > 0]
    return float(np.exp(-(w * np.log(w)).sum()))
