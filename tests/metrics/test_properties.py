"""Property-based tests (hypothesis) of the metric layer, with a bounded number of examples."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gentools.metrics.frechet import frechet_distance, mean_cov
from gentools.metrics.kid import kid
from gentools.metrics.prdc import prdc
from gentools.metrics.feature_stats import FeatureStats

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def feature_sets(draw, min_rows=12, max_rows=40, min_dim=2, max_dim=6):
    """Two sets of real-valued features with random sizes, dimension, scales and shifts."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    d = draw(st.integers(min_dim, max_dim))
    n, m = draw(st.integers(min_rows, max_rows)), draw(st.integers(min_rows, max_rows))
    scale = draw(st.floats(0.1, 10.0))
    x = rng.randn(n, d) @ rng.randn(d, d) * scale
    y = rng.randn(m, d) @ rng.randn(d, d) * scale + draw(st.floats(-5, 5))
    return x, y


def _stats(rows) -> FeatureStats:
    out = FeatureStats(dim=rows.shape[1])
    out.append(rows)
    return out


def _fd(a, b):
    return frechet_distance(*mean_cov(a), *mean_cov(b))


@SETTINGS
@given(feature_sets())
def test_fd_non_negative_symmetric_zero_on_itself(pair):
    x, y = pair
    scale = max(np.trace(np.cov(x, rowvar=False)), np.trace(np.cov(y, rowvar=False)), 1.0)
    fd = _fd(x, y)
    assert fd >= -1e-8 * scale
    assert abs(fd - _fd(y, x)) <= 1e-6 * max(abs(fd), scale)
    assert abs(_fd(x, x)) <= 1e-6 * scale


@SETTINGS
@given(feature_sets(), st.integers(0, 2**31 - 1), st.floats(-100, 100))
def test_fd_invariant_to_row_order_and_common_translation(pair, seed, shift):
    x, y = pair
    rng = np.random.RandomState(seed)
    fd = _fd(x, y)
    scale = max(abs(fd), np.trace(np.cov(x, rowvar=False)), 1.0)
    assert abs(_fd(x[rng.permutation(len(x))], y[rng.permutation(len(y))]) - fd) <= 1e-8 * scale
    assert abs(_fd(x + shift, y + shift) - fd) <= 1e-6 * max(scale, shift ** 2)


@SETTINGS
@given(feature_sets(), st.integers(1, 4), st.integers(1, 200))
def test_prdc_bounded_and_independent_of_chunk_size(pair, k, budget):
    x, y = pair
    whole = prdc(x, y, k)
    assert 0 <= whole["precision"] <= 1 and 0 <= whole["recall"] <= 1 and 0 <= whole["coverage"] <= 1
    assert whole["density"] >= 0
    assert prdc(x, y, k, budget=budget) == whole


@SETTINGS
@given(feature_sets(min_rows=6), st.integers(1, 5), st.integers(1, 5))
def test_stats_merge_is_associative_and_exact(pair, cut1, cut2):
    x, _ = pair
    a, b, c = x[:cut1], x[cut1:cut1 + cut2], x[cut1 + cut2:]
    parts = [_stats(p) for p in (a, b, c)]
    left = _stats(a).merge(_stats(b)).merge(parts[2])
    right = parts[0].merge(_stats(b).merge(_stats(c)))
    mu, sigma = mean_cov(x)
    for merged in (left, right):
        m, s = merged.mean_cov()
        np.testing.assert_allclose(m, mu, rtol=1e-9, atol=1e-9 * np.abs(x).max())
        np.testing.assert_allclose(s, sigma, rtol=1e-8, atol=1e-9 * np.abs(sigma).max())


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_kid_near_zero_for_one_distribution(seed):
    rng = np.random.RandomState(seed)
    x, y = rng.randn(300, 8), rng.randn(300, 8)
    shifted = kid(x, y + 1.0, subsets=10, subset_size=100, seed=seed)["kid_mean"]
    same = kid(x, y, subsets=10, subset_size=100, seed=seed)["kid_mean"]
    assert abs(same) < 0.2 * shifted  # unbiased: no systematic offset when the distributions agree
