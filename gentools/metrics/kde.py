"""Parzen-window (isotropic Gaussian KDE) log-likelihood, Goodfellow et al. 2014 protocol.

``log p(x) = logsumexp_i(-|x - S_i|² / (2σ²)) - log n - (d/2) log(2πσ²)``,
σ chosen to maximise the mean log-likelihood of a validation set. Equal to
``sklearn.neighbors.KernelDensity(kernel="gaussian", bandwidth=σ).score_samples``.
Unreliable in high dimensions (Theis et al. 2016, "A note on the evaluation
of generative models"): compare models, not absolute numbers.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from gentools.metrics._pairwise import DEFAULT_BUDGET, iter_sq_distances, kth_neighbour_sq_radii, sq_norms


def log_likelihoods(samples: np.ndarray, points: np.ndarray, sigmas, budget: int = DEFAULT_BUDGET) -> np.ndarray:
    """``(len(sigmas), len(points))`` log-densities of ``points`` under the KDE of ``samples``.

    One chunked pass over the distances serves every σ.
    """
    samples = np.asarray(samples, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    sigmas = np.atleast_1d(np.asarray(sigmas, dtype=np.float64))
    n, d = samples.shape
    out = np.empty((len(sigmas), len(points)))
    s_norms, p_norms = sq_norms(samples), sq_norms(points)
    for rows, d2 in iter_sq_distances(points, samples, budget // max(1, len(sigmas)), p_norms, s_norms):
        for k, sigma in enumerate(sigmas):
            out[k, rows] = logsumexp(-d2 / (2 * sigma ** 2), axis=1)
    constants = np.log(n) + 0.5 * d * np.log(2 * np.pi * sigmas ** 2)
    return out - constants[:, None]


def default_sigmas(samples: np.ndarray, count: int = 20) -> np.ndarray:
    """``count`` values log-spaced over [0.05, 2] × the median nearest-neighbour distance of ``samples``."""
    median_nn = float(np.sqrt(np.median(kth_neighbour_sq_radii(np.asarray(samples, dtype=np.float64), 1))))
    if median_nn == 0:
        median_nn = 1.0
    return np.geomspace(0.05, 2.0, count) * median_nn


def parzen(samples, valid, test, sigmas=None) -> dict:
    """Choose σ on ``valid``, score ``test``: mean, standard error, σ, bits/dim, and the σ curve."""
    sigmas = default_sigmas(samples) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    curve = log_likelihoods(samples, valid, sigmas).mean(axis=1)
    sigma = float(sigmas[int(np.argmax(curve))])
    ll = log_likelihoods(samples, test, [sigma])[0]
    d = np.asarray(samples).shape[1]
    return {"log_likelihood_mean": float(ll.mean()),
            "log_likelihood_sem": float(ll.std(ddof=1) / np.sqrt(len(ll))) if len(ll) > 1 else float("nan"),
            "sigma": sigma, "bits_per_dim": float(-ll.mean() / (d * np.log(2))),
            "sigmas": sigmas, "valid_curve": curve}
