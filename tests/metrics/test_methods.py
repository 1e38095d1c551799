"""Two-sample tests, Parzen KDE, nearest neighbours/memorisation and latent paths against their references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gentools.metrics import kde, latent, neighbours, twosample


def test_mmd_equals_direct_numpy():
    rng = np.random.RandomState(0)
    x, y = rng.randn(60, 3), rng.randn(45, 3) + 0.3
    sigma = 1.3
    z = np.concatenate([x, y])
    k = np.exp(-((z[:, None] - z[None]) ** 2).sum(-1) / (2 * sigma ** 2))
    m, n = len(x), len(y)
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    direct = (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) \
        - 2 * kxy.mean()
    assert twosample.mmd_test(x, y, 50, 2020, bandwidth=sigma)["statistic"] == pytest.approx(direct, rel=1e-10)
    d2 = ((z[:, None] - z[None]) ** 2).sum(-1)
    assert twosample.mmd_test(x, y, 50, 2020)["bandwidth"] == pytest.approx(
        np.sqrt(np.median(d2[np.triu_indices(len(z), 1)])), rel=1e-12)


def test_energy_equals_scipy_in_1d_and_numpy_in_dd():
    rng = np.random.RandomState(1)
    x, y = rng.randn(70, 1), rng.randn(50, 1) * 1.5
    ours = twosample.energy_test(x, y, 50, 2020)["statistic"]
    assert ours == pytest.approx(stats.energy_distance(x[:, 0], y[:, 0]) ** 2, rel=1e-10)  # scipy: the root
    x, y = rng.randn(40, 4), rng.randn(30, 4) + 0.2

    def mean_dist(a, b):
        return np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).mean()

    direct = 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)
    assert twosample.energy_test(x, y, 50, 2020)["statistic"] == pytest.approx(direct, rel=1e-10)


def test_c2st_p_value_is_the_binomial_test():
    rng = np.random.RandomState(2)
    x, y = rng.randn(100, 5), rng.randn(100, 5) + 0.4
    out = twosample.c2st(x, y, "logistic", 0.5, seed=3)
    n_test = 100
    correct = round(out["statistic"] * n_test)
    assert out["p_value"] == pytest.approx(stats.binomtest(correct, n_test, 0.5, alternative="greater").pvalue,
                                           rel=1e-12)


def test_calibration_under_the_null():
    """Over 60 seeds of two samples from one distribution, each test rejects at alpha=0.05 at most
    as often as binomial noise around 5% allows (P[Binom(60, 0.05) > 9] < 0.002)."""
    rejections = {"mmd": 0, "energy": 0, "c2st": 0}
    for seed in range(60):
        rng = np.random.RandomState(100 + seed)
        x, y = rng.randn(40, 5), rng.randn(40, 5)
        rejections["mmd"] += twosample.mmd_test(x, y, 199, seed)["p_value"] <= 0.05
        rejections["energy"] += twosample.energy_test(x, y, 199, seed)["p_value"] <= 0.05
        rejections["c2st"] += twosample.c2st(x, y, "logistic", 0.5, seed)["p_value"] <= 0.05
    assert all(count <= 9 for count in rejections.values()), rejections


@pytest.mark.parametrize("dim", [2, 5, 8])
def test_kde_equals_sklearn_and_picks_the_validation_argmax(dim):
    from sklearn.neighbors import KernelDensity

    rng = np.random.RandomState(dim)
    train, valid, test = rng.randn(500, dim), rng.randn(300, dim) * 1.1, rng.randn(300, dim)
    result = kde.parzen(train, valid, test)
    reference = KernelDensity(kernel="gaussian", bandwidth=result["sigma"]).fit(train).score_samples(test)
    np.testing.assert_allclose(kde.log_likelihoods(train, test, [result["sigma"]])[0], reference, rtol=1e-8)
    assert result["log_likelihood_mean"] == pytest.approx(reference.mean(), rel=1e-8)
    curve = [KernelDensity(bandwidth=s).fit(train).score_samples(valid).mean() for s in result["sigmas"]]
    assert result["sigma"] == result["sigmas"][int(np.argmax(curve))]


def test_kde_on_digits_closed_form_and_beats_noise(digits):
    """On 64-d digit pixels sklearn's tree KDE is wrong (scikit-learn issues #7492, #27186: off by up to
    16 nats at small bandwidths), so the check there is the closed form itself."""
    from scipy.special import logsumexp

    pixels = digits.astype(np.float64) / 16
    train, valid, test = pixels[:600], pixels[600:900], pixels[900:1200]
    result = kde.parzen(train, valid, test)
    s = result["sigma"]
    d2 = ((test[:, None] - train[None]) ** 2).sum(-1)
    direct = logsumexp(-d2 / (2 * s * s), axis=1) - np.log(len(train)) - 32 * np.log(2 * np.pi * s * s)
    assert result["log_likelihood_mean"] == pytest.approx(direct.mean(), rel=1e-10)
    noise = np.random.RandomState(0).rand(600, 64)
    assert kde.parzen(noise, valid, test)["log_likelihood_mean"] < result["log_likelihood_mean"] - 10


def test_mann_whitney_u_equals_scipy():
    rng = np.random.RandomState(4)
    a, b = rng.rand(37), np.round(rng.rand(23), 1)
    u, _ = neighbours.mann_whitney_z(a, b)
    assert u == stats.mannwhitneyu(a, b).statistic


def test_memorisation_flags_near_copies_not_fresh_samples(digits):
    pixels = digits.astype(np.float64) / 16
    train, test, fresh = pixels[:900], pixels[900:1350], pixels[1350:]
    copies = train[:400] + np.random.RandomState(5).randn(400, 64) * 0.01
    idx, _ = neighbours.nearest(copies, train, 1)
    assert (idx[:, 0] == np.arange(400)).all()
    copied = neighbours.memorisation(copies, train, test, cells=5, seed=2020)
    clean = neighbours.memorisation(fresh, train, test, cells=5, seed=2020)
    assert copied["copies"] > 0.9 and clean["copies"] < 0.1
    assert copied["authenticity"] < 0.1 and clean["authenticity"] > 0.3
    assert copied["ct_z"] < -5 and clean["ct_z"] > -3
    assert copied["nn_ratio_median"] < 0.1 and 0.7 < clean["nn_ratio_median"] < 1.3


def test_slerp_endpoints_and_norms():
    rng = np.random.RandomState(6)
    z0, z1 = rng.randn(16), rng.randn(16)
    path = latent.slerp(z0, z1, np.linspace(0, 1, 9))
    np.testing.assert_allclose(path[0], z0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(path[-1], z1, rtol=0, atol=1e-12)
    omega = np.arccos(z0 @ z1 / np.linalg.norm(z0) / np.linalg.norm(z1))
    for t, p in zip(np.linspace(0, 1, 9), path):
        a, b = np.sin((1 - t) * omega) / np.sin(omega), np.sin(t * omega) / np.sin(omega)
        expected_sq = a * a * z0 @ z0 + b * b * z1 @ z1 + 2 * a * b * z0 @ z1
        assert p @ p == pytest.approx(expected_sq, rel=1e-10)
    unit = latent.slerp(z0 / np.linalg.norm(z0), z1 / np.linalg.norm(z1), np.linspace(0, 1, 5))
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-12)  # stays on the sphere
    np.testing.assert_allclose(latent.slerp(z0, 2 * z0, [0.5])[0], 1.5 * z0)  # parallel: lerp


def test_arithmetic():
    z = np.eye(3)
    result, operands = latent.arithmetic("a - b + c", z, ["a", "b", "c"])
    np.testing.assert_array_equal(result, [1, -1, 1])
    assert operands == ["a", "b", "c"]
    with pytest.raises(ValueError):
        latent.arithmetic("a - - b", z, ["a", "b", "c"])
