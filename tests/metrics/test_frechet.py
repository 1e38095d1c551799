import warnings

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance
from torch_fidelity.metric_fid import fid_statistics_to_metric

from gentools.metrics.frechet import fid_bootstrap, fid_infinity, frechet_distance, mean_cov


def _torch_fidelity_fd(mu1, s1, mu2, s2):
    return fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, verbose=False)[
        "frechet_inception_distance"]


def test_mean_cov_equals_numpy(digits):
    mu, sigma = mean_cov(digits)
    np.testing.assert_allclose(mu, digits.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(digits.astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-10)


def test_fd_matches_pytorch_fid_and_torch_fidelity_well_conditioned(gaussian_pair):
    stats = [mean_cov(x) for x in gaussian_pair]
    ours = frechet_distance(*stats[0], *stats[1])
    ref_pf = calculate_frechet_distance(*stats[0], *stats[1])
    ref_tf = _torch_fidelity_fd(*stats[0], *stats[1])
    assert ours > 1.0
    assert abs(ours - ref_pf) / ref_pf <= 1e-6
    assert abs(ours - ref_tf) / ref_tf <= 1e-6


def test_fd_matches_references_on_digit_classes(digits):
    from sklearn.datasets import load_digits

    target = load_digits().target
    # Jitter so the constant border pixels do not make the covariance singular.
    rng = np.random.RandomState(0)
    x = digits + rng.rand(*digits.shape).astype(np.float32)
    low, high = mean_cov(x[target < 5]), mean_cov(x[target >= 5])
    ours = frechet_distance(*low, *high)
    assert abs(ours - calculate_frechet_distance(*low, *high)) / ours <= 1e-6
    assert abs(ours - _torch_fidelity_fd(*low, *high)) / ours <= 1e-6


def test_fd_singular_case_agrees_with_pytorch_fid(gaussian_pair):
    a, b = gaussian_pair
    s1, s2 = mean_cov(a[:20]), mean_cov(b[:25])  # n <= d = 32: singular covariances
    assert np.linalg.matrix_rank(s1[1]) < 32
    ours = frechet_distance(*s1, *s2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's "matrix is singular" from the reference
        ref = calculate_frechet_distance(*s1, *s2)
    assert abs(ours - ref) / ref <= 1e-4


def test_fd_closed_forms():
    rng = np.random.RandomState(1)
    a = rng.randn(50, 8)
    sigma = a.T @ a / 50
    mu1, mu2 = rng.randn(8), rng.randn(8)
    # Equal covariances: FD = |mu1 - mu2|^2.
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-9)
    # Identical Gaussians: 0.
    assert abs(frechet_distance(mu1, sigma, mu1, sigma)) < 1e-9
    # Diagonal covariances: sum (sqrt(a) - sqrt(b))^2.
    d1, d2 = rng.rand(8) + 0.1, rng.rand(8) + 0.1
    expected = np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert frechet_distance(mu1, np.diag(d1), mu1, np.diag(d2)) == pytest.approx(expected, rel=1e-9)


def test_fd_warns_on_non_covariance():
    bad = np.diag([1.0, -1.0, 2.0])
    with pytest.warns(UserWarning, match="negative eigenvalue"):
        frechet_distance(np.zeros(3), bad, np.zeros(3), np.eye(3))


def test_fid_infinity_recovers_intercept_and_is_seeded(gaussian_pair):
    gen, ref = gaussian_pair
    mu_r, s_r = mean_cov(ref)
    first = fid_infinity(gen, mu_r, s_r, seed=3)
    assert first == fid_infinity(gen, mu_r, s_r, seed=3)
    full = frechet_distance(*mean_cov(gen), mu_r, s_r)
    # FD is biased upwards in 1/N, so the extrapolation sits below the full-set FD.
    assert first < full
    assert first > 0.5 * full


def test_fid_bootstrap_interval_is_seeded_and_ordered(gaussian_pair):
    gen, ref = gaussian_pair
    out = fid_bootstrap(gen, ref, resamples=20, seed=5)
    assert out == fid_bootstrap(gen, ref, resamples=20, seed=5)
    assert out["fid_ci_low"] < out["fid_ci_high"]
    assert out["fid_bootstrap_std"] > 0


def _fd_in_40_digits(x, mu2, s2):
    """FD of rows x to (mu2, s2) in 40-digit arithmetic (mpmath): tr (S1 S2)^½ from the n x n matrix A S2 Aᵀ."""
    import mpmath as mp

    mp.mp.dps = 40
    n, d = x.shape
    mu1 = [mp.fsum(mp.mpf(float(v)) for v in x[:, j]) / n for j in range(d)]
    a = mp.matrix([[mp.mpf(float(x[i, j])) - mu1[j] for j in range(d)] for i in range(n)])
    inner = a * mp.matrix(s2.tolist()) * a.T / (n - 1)
    tr_covmean = mp.fsum(mp.sqrt(max(e, 0)) for e in mp.eigsy(inner, eigvals_only=True))
    tr1 = mp.fsum(a[i, j] ** 2 for i in range(n) for j in range(d)) / (n - 1)
    diff = mp.fsum((mu1[j] - float(mu2[j])) ** 2 for j in range(d))
    return float(diff + tr1 + mp.fsum(float(s2[j, j]) for j in range(d)) - 2 * tr_covmean)


def test_low_rank_route_is_exact_where_the_d_by_d_route_is_not():
    """n = 24 rows of d = 96: the n x n route agrees with 40-digit arithmetic to 1e-13; the d x d route (an
    eigensolver over a covariance of rank 23) only to ~1e-8, which is why the two agree to 1e-6, not 1e-9."""
    from gentools.metrics.frechet import frechet_distance_low_rank

    rng = np.random.RandomState(1)
    x = rng.randn(24, 96) @ (rng.randn(96, 96) * 0.1)
    y = rng.randn(400, 96) @ (rng.randn(96, 96) * 0.1) + 0.05
    mu2, s2 = mean_cov(y)
    exact = _fd_in_40_digits(x, mu2, s2)
    assert frechet_distance_low_rank(x, mu2, s2) == pytest.approx(exact, rel=1e-13)
    assert frechet_distance(*mean_cov(x), mu2, s2) == pytest.approx(exact, rel=1e-6)
    y_few = y[:30]  # rows on both sides: the singular values of A Bᵀ
    assert frechet_distance_low_rank(x, None, y=y_few) == pytest.approx(_fd_in_40_digits(x, *mean_cov(y_few)),
                                                                         rel=1e-12)
