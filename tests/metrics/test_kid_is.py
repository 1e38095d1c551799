import numpy as np
import pytest
import torch
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from gentools.metrics.inception_score import inception_score
from gentools.metrics.kid import kid, polynomial_mmd2


def _reference_kid(x, y, subsets, size, seed):
    out = kid_features_to_metric(
        torch.from_numpy(x.astype(np.float64)), torch.from_numpy(y.astype(np.float64)),
        kid_subsets=subsets, kid_subset_size=size, rng_seed=seed, verbose=False, kid_kernel="poly",
        kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


@pytest.mark.parametrize("seed", [2020, 11])
def test_kid_matches_torch_fidelity(digits, seed):
    gen, ref = digits[:800], digits[800:1700] + 0.5
    ours = kid(gen, ref, subsets=15, subset_size=300, seed=seed)
    mean, std = _reference_kid(gen, ref, 15, 300, seed)
    assert ours["kid_mean"] == pytest.approx(mean, rel=1e-9)
    assert ours["kid_std"] == pytest.approx(std, rel=1e-9)


def test_mmd2_closed_form_and_near_zero_for_one_distribution():
    rng = np.random.RandomState(0)
    x, y = rng.randn(400, 10), rng.randn(400, 10)
    d = 10

    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m = len(x)
    direct = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    assert polynomial_mmd2(x, y) == pytest.approx(direct, rel=1e-12)
    assert abs(kid(x, y, subsets=20, subset_size=200, seed=2020)["kid_mean"]) < 0.05


def test_kid_on_float32_features_is_close_to_exact(digits):
    pixels = digits.astype(np.float64) / 7.3 + 0.1  # not integers: float32 dot products round
    gen, ref = pixels[:800] + 0.4, pixels[800:1600]
    exact = kid(gen, ref, subsets=5, subset_size=300, seed=2020)["kid_mean"]
    single = kid(gen.astype(np.float32), ref.astype(np.float32), subsets=5, subset_size=300, seed=2020)["kid_mean"]
    assert single == pytest.approx(exact, rel=1e-6)
    assert single != exact  # really took the float32 path


def test_inception_score_matches_torch_fidelity():
    rng = np.random.RandomState(3)
    logits = rng.randn(600, 1008) * 4
    for shuffle in (True, False):
        ours = inception_score(logits, splits=10, shuffle=shuffle, seed=2020)
        ref = isc_features_to_metric(torch.from_numpy(logits), splits=10, shuffle=shuffle, rng_seed=2020)
        assert ours["is_mean"] == pytest.approx(ref["inception_score_mean"], rel=1e-9)
        assert ours["is_std"] == pytest.approx(ref["inception_score_std"], rel=1e-9)


def test_inception_score_closed_forms():
    # One-hot confident predictions spread evenly over C classes give IS = C.
    c = 8
    logits = np.full((c * 10, c), -50.0)
    logits[np.arange(c * 10), np.arange(c * 10) % c] = 50.0
    assert inception_score(logits, splits=1, shuffle=True, seed=2020)["is_mean"] == pytest.approx(c, rel=1e-9)
    # Identical predictions everywhere give IS = 1.
    uniform = inception_score(np.ones((50, 5)), splits=5, shuffle=True, seed=2020)
    assert uniform["is_mean"] == pytest.approx(1.0, abs=1e-12)
