"""The Fréchet distances of the FVD evaluators, as each computes it (Unterthiner et al. 2018, "Towards Accurate
Generative Models of Video: A New Metric & Challenges").

``sqrtm_route``: StyleGAN-V (``src/metrics/frechet_video_distance.py``, ``compute_fvd``) over moments with
ddof=0 (``FeatureStats.get_mean_cov``: ``raw_cov / num_items - outer(mean, mean)``)::

    m = np.square(mu_gen - mu_real).sum()
    s, _ = scipy.linalg.sqrtm(np.dot(sigma_gen, sigma_real), disp=False)
    fid = np.real(m + np.trace(sigma_gen + sigma_real - s * 2))

with no eps; content-debiased-fvd (``cdfvd/fvd.py``, ``compute_fvd_from_stats``) multiplies the other way round,
``sqrtm(np.dot(sigma_real, sigma_fake))``: the same trace. ``disp=False`` is gone from SciPy 1.18; the default call returns the same matrix (and warns,
instead of returning an error estimate, when it is inaccurate).

``svd_route``: TATS (``tats/fvd/fvd.py``, ``frechet_distance``), tensorflow-gan's ``trace_sqrt_product``:
``tr sqrt(A^½ B A^½)`` with each symmetric square root from an SVD whose singular values below 1e-10 are kept
as they are (``torch.where(s < eps, s, torch.sqrt(s))``), over ddof=1 covariances; here in float64 (TATS runs
it in float32 torch, whose rounding is ~1e-4 relative on 400-d logits).
"""

from __future__ import annotations

import warnings

import numpy as np

from gentools.errors import warn

TATS_EPS = 1e-10


def sqrtm_route(mu_gen: np.ndarray, sigma_gen: np.ndarray, mu_real: np.ndarray, sigma_real: np.ndarray) -> float:
    """StyleGAN-V's FVD: ``real(|mu_g - mu_r|² + tr(S_g + S_r - 2 sqrtm(S_g S_r)))``."""
    import scipy.linalg

    mu_gen, mu_real = np.asarray(mu_gen, np.float64), np.asarray(mu_real, np.float64)
    sigma_gen, sigma_real = np.asarray(sigma_gen, np.float64), np.asarray(sigma_real, np.float64)
    m = np.square(mu_gen - mu_real).sum()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = scipy.linalg.sqrtm(np.dot(sigma_gen, sigma_real))
    for w in caught:  # SciPy's LinAlgWarning (an inaccurate root) as ours, once
        warn(f"sqrtm(S_gen S_real): {w.message}")
        break
    return float(np.real(m + np.trace(sigma_gen + sigma_real - s * 2)))


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """tensorflow-gan's ``_symmetric_matrix_square_root`` as TATS has it: ``u diag(si) v^T`` of an SVD, ``si`` the
    square roots of the singular values except those under 1e-10."""
    u, s, vh = np.linalg.svd(matrix)
    si = np.where(s < TATS_EPS, s, np.sqrt(s))
    return (u * si) @ vh


def svd_route(mu_real: np.ndarray, sigma_real: np.ndarray, mu_gen: np.ndarray, sigma_gen: np.ndarray) -> float:
    """TATS's FVD: ``tr(S_r + S_g) - 2 trace_sqrt_product(S_r, S_g) + |mu_r - mu_g|²`` (real first, as TATS's
    ``compute_fvd(real, samples)`` passes them)."""
    sigma_real, sigma_gen = np.asarray(sigma_real, np.float64), np.asarray(sigma_gen, np.float64)
    root = _symmetric_sqrt(sigma_real)
    trace_sqrt = np.trace(_symmetric_sqrt(root @ (sigma_gen @ root)))
    diff = np.asarray(mu_real, np.float64) - np.asarray(mu_gen, np.float64)
    return float(np.trace(sigma_real + sigma_gen) - 2.0 * trace_sqrt + np.sum(diff ** 2))
