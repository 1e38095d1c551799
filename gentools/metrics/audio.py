"""FAD as fadtk computes it, FAD∞, per-file FAD, and kadtk's Kernel Audio Distance.

Kilgour et al. 2019, "Fréchet Audio Distance"; Gui et al. 2024, "Adapting Fréchet Audio Distance
for Generative Music Evaluation" (fadtk, FAD∞); Chung et al. 2025, "KAD: No More FAD! An
Effective and Efficient Evaluation Metric for Audio Generation" (kadtk). Transcribed from fadtk
1.1.0 (``fadtk/fad.py``, ``fadtk/utils.py``) and kadtk 1.1.0 (``kadtk/kad.py``); tested against
their own functions' outputs (tests/fixtures/audio_reference.npz, made in a side venv).

gentools' default FAD is :func:`gentools.metrics.frechet.frechet_distance` on float64 moments;
the functions here are the ``--preset fadtk`` route, where float16 means and the
eigendecomposition of ``cov1·cov2`` change the last digits.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from gentools.errors import GentoolsNotice, warn

FAD_INFINITY_STEPS, FAD_INFINITY_MIN_N = 25, 500  # fadtk's score_inf(steps=25, min_n=500)
KAD_SCALE = 100  # kadtk's SCALE_FACTOR (1000 before its 2025-02-27 release)


def fadtk_statistics(files: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """fadtk's ``calculate_embd_statistics_online``: per file ``np.mean`` (float16 for float16 frames) and
    ``np.cov · (n - 1)``, merged with Chan's update; ``cov = S / (n - 1)``, zeros for fewer than 2 frames."""
    dim = np.shape(files[0])[-1]
    mu, total, n = np.zeros(dim), np.zeros((dim, dim)), 0
    for frames in files:
        k = frames.shape[0]
        file_mu = np.mean(frames, axis=0)
        file_s = np.cov(frames, rowvar=False) * (k - 1)
        delta = file_mu - mu
        mu += k / (n + k) * delta
        total += file_s + delta[:, None] * delta[None, :] * n * k / (n + k)
        n += k
    return (mu, np.zeros_like(total)) if n < 2 else (mu, total / (n - 1))


def fadtk_file_statistics(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fadtk's ``calc_embd_statistics``: ``np.mean`` and ``np.cov(rowvar=False)`` of one set of frames."""
    if frames.shape[0] < 2:
        raise ValueError(f"FAD needs at least two embedding frames, this set has {frames.shape[0]} "
                         f"(audio too short?)")
    return np.mean(frames, axis=0), np.cov(frames, rowvar=False)


def fadtk_frechet_distance(mu1, cov1, mu2, cov2, eps: float = 1e-6) -> float:
    """fadtk's ``calc_frechet_distance``: ``|mu1 - mu2|² + tr C1 + tr C2 - 2 tr covmean`` with ``covmean``
    from ``eig(C1·C2)`` as ``(V·sqrt(D))·inv(V)``; non-finite -> ``sqrtm`` of ``eps``-offset covariances;
    an imaginary diagonal above 1e-3 is an error. (fadtk's own ``sqrtm`` cross-check is not repeated: it
    only asserts.)"""
    from numpy.lib.scimath import sqrt as complex_sqrt
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    cov1, cov2 = np.atleast_2d(cov1), np.atleast_2d(cov2)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape:
        raise ValueError(f"dimension mismatch: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    d, v = linalg.eig(cov1.dot(cov2))
    covmean = (v * complex_sqrt(d)) @ linalg.inv(v)
    if not np.isfinite(covmean).all():
        warn(f"FAD: singular product; adding {eps} to the diagonal of both covariances", GentoolsNotice)
        offset = np.eye(cov1.shape[0]) * eps
        covmean = linalg.sqrtm((cov1 + offset).dot(cov2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FAD: imaginary component {np.max(np.abs(covmean.imag)):.3g} in sqrt(C1·C2)")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))


def fad_infinity(frames: np.ndarray, mu_ref: np.ndarray, cov_ref: np.ndarray, seed: int,
                 steps: int = FAD_INFINITY_STEPS, min_n: int = FAD_INFINITY_MIN_N,
                 progress: Callable[[int], None] | None = None) -> dict:
    """FAD∞ (fadtk ``score_inf``): for ``steps`` sizes ``int(linspace(min_n, N, steps))`` draw that many of
    the ``N`` frames with replacement (fadtk's global ``np.random.choice``; here ``RandomState(seed)``, so
    ``np.random.seed(seed)`` before fadtk gives the same draws), FAD of each against the reference; the
    intercept of ``polyfit(1/n, FAD, 1)``. Returns ``fad_infinity``, ``fad_infinity_slope``, ``fad_infinity_r2``."""
    ns = [int(n) for n in np.linspace(min_n, len(frames), steps)]
    rng = np.random.RandomState(seed)
    scores = []
    for n in ns:
        chosen = frames[rng.choice(frames.shape[0], size=n, replace=True)]
        scores.append(fadtk_frechet_distance(mu_ref, cov_ref, *fadtk_file_statistics(chosen)))
        if progress:
            progress(1)
    ys, xs = np.array(scores), 1 / np.array(ns)
    slope, intercept = np.polyfit(xs, ys, 1)
    r2 = 1 - np.sum((ys - (slope * xs + intercept)) ** 2) / np.sum((ys - np.mean(ys)) ** 2)
    return {"fad_infinity": float(intercept), "fad_infinity_slope": float(slope), "fad_infinity_r2": float(r2)}


def median_pairwise_distance(x) -> float:
    """kadtk's bandwidth: ``torch.median(torch.pdist(x))`` in float32 (the lower middle value for an even
    count, as ``torch.median`` takes it)."""
    import torch

    return float(torch.median(torch.pdist(torch.as_tensor(x, dtype=torch.float32))).item())


def kernel_audio_distance(ref: np.ndarray, gen: np.ndarray, bandwidth: float | None = None,
                          bandwidth_from: str = "gen", eps: float = 1e-8) -> tuple[float, float]:
    """KAD (kadtk's ``calc_kernel_audio_distance(embd_bg, embd_eval)``): the unbiased MMD² between the
    reference frames ``x`` (m) and generated frames ``y`` (n) with the Gaussian kernel
    ``exp(-d² / (2·bw² + eps))``, ``d²`` from norms and dot products in float32, diagonals removed,
    ``/ m(m-1)`` and ``/ n(n-1)``, times 100. ``bw`` is the median pairwise distance of the generated set
    (what kadtk's code does; its README says the reference set: ``bandwidth_from="ref"``) unless given.
    Returns ``(kad, bandwidth)``; KAD can be negative."""
    import torch

    x = torch.as_tensor(np.asarray(ref), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(gen), dtype=torch.float32)
    if bandwidth is None:
        bandwidth = median_pairwise_distance(y if bandwidth_from == "gen" else x)
    m, n = x.shape[0], y.shape[0]
    gamma = 1 / (2 * bandwidth ** 2 + eps)

    def kernel_mean_within(z, count):
        zz = z @ z.T
        sqnorms = torch.diagonal(zz)
        k = torch.exp(-gamma * (sqnorms.unsqueeze(1) + sqnorms.unsqueeze(0) - 2 * zz))
        k = k - torch.diag(torch.diagonal(k))
        return k.sum() / (count * (count - 1)), sqnorms

    k_xx, x_sqnorms = kernel_mean_within(x, m)
    k_yy, y_sqnorms = kernel_mean_within(y, n)
    k_xy = torch.exp(-gamma * (x_sqnorms.unsqueeze(1) + y_sqnorms.unsqueeze(0) - 2 * (x @ y.T))).mean()
    return float((k_xx + k_yy - 2 * k_xy) * KAD_SCALE), float(bandwidth)
