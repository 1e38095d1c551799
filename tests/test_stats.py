import numpy as np
import pytest

from gentools.metrics.feature_stats import FeatureStats


def features_to_stats(x, chunk_rows, ddof=1):
    """Stream ``x`` into one accumulator ``chunk_rows`` rows at a time, as the store's readers do."""
    acc = FeatureStats(dim=x.shape[1])
    for start in range(0, len(x), chunk_rows):
        acc.append(x[start:start + chunk_rows])
    return acc.mean_cov(ddof)


def test_streaming_stats_equal_numpy_cov(digits):
    mu, sigma = features_to_stats(digits, chunk_rows=100)
    x = digits.astype(np.float64)
    np.testing.assert_allclose(mu, x.mean(axis=0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=0, atol=1e-10)


def test_ddof0_equals_stylegan_raw_cov(digits):
    """stylegan2-ada-pytorch metrics/metric_utils.py: ``cov = self.raw_cov / self.num_items``,
    ``cov = cov - np.outer(mean, mean)``."""
    x = digits.astype(np.float64)
    mean = x.sum(axis=0) / len(x)
    expected = (x.T @ x) / len(x) - np.outer(mean, mean)
    np.testing.assert_allclose(features_to_stats(digits, 100, ddof=0)[1], expected, rtol=0, atol=1e-9)


def test_stats_independent_of_chunking(gaussian_pair):
    x = gaussian_pair[0]
    ref = features_to_stats(x, chunk_rows=len(x))
    for rows in (1, 7, 64):
        got = features_to_stats(x, chunk_rows=rows)
        np.testing.assert_allclose(got[0], ref[0], atol=1e-12)
        np.testing.assert_allclose(got[1], ref[1], atol=1e-10)


def test_merge_of_three_parts_equals_whole(digits):
    parts = np.array_split(digits + 1000.0, [300, 1100])  # offset stresses cancellation
    merged = FeatureStats(dim=64)
    for part in parts:
        acc = FeatureStats(dim=64)
        acc.append(part)
        mu, sigma = acc.mean_cov()
        merged.merge(FeatureStats.from_mean_cov(len(part), mu, sigma))
    whole = np.asarray(digits + 1000.0, dtype=np.float64)
    mu, sigma = merged.mean_cov()
    assert merged.n == len(digits)
    np.testing.assert_allclose(mu, whole.mean(axis=0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(sigma, np.cov(whole, rowvar=False), rtol=0, atol=1e-10)


def test_too_few_rows_and_wrong_dim():
    acc = FeatureStats(dim=3)
    acc.append(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        acc.mean_cov()
    with pytest.raises(ValueError, match="dim 3"):
        acc.append(np.ones((2, 4)))
