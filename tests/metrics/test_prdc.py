import numpy as np
import pytest
from prdc import compute_prdc

from gentools.metrics._pairwise import kth_neighbour_sq_radii
from gentools.metrics.prdc import prdc


def _reference(real, fake, k):
    return {key: float(v) for key, v in compute_prdc(real_features=real, fake_features=fake, nearest_k=k).items()}


@pytest.mark.parametrize("k", [3, 5])
def test_prdc_equals_reference_on_digits(digits, k):
    rng = np.random.RandomState(0)
    real = digits[:900]
    fake = (digits[900:] + rng.randn(*digits[900:].shape) * 2).astype(np.float32)
    ours = prdc(real, fake, k=k)
    ref = _reference(real, fake, k)
    for key in ("precision", "recall", "density", "coverage"):
        weight = 1 / min(len(real), len(fake))
        assert abs(ours[key] - ref[key]) <= weight + 1e-12, key
    p, r = ours["precision"], ours["recall"]
    assert ours["f_score"] == pytest.approx(2 * p * r / (p + r))


def test_prdc_equals_reference_exactly_on_gaussians(gaussian_pair):
    real, fake = gaussian_pair
    ours = prdc(real, fake, k=5)
    ref = _reference(real, fake, 5)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


def test_prdc_does_not_depend_on_chunk_size(gaussian_pair):
    real, fake = gaussian_pair
    whole = prdc(real, fake, k=4, budget=1 << 24)
    for budget in (1, 999, 50_000):
        assert prdc(real, fake, k=4, budget=budget) == whole


def test_prdc_identical_sets_and_disjoint_sets():
    rng = np.random.RandomState(2)
    x = rng.randn(300, 6).astype(np.float32)
    same = prdc(x, x.copy(), k=5)
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    far = prdc(x, x + 100, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0, "f_score": 0.0}


def test_radii_exclude_self():
    x = np.array([[0.0], [1.0], [3.0], [6.0]], dtype=np.float32)
    np.testing.assert_allclose(kth_neighbour_sq_radii(x, 1), [1.0, 1.0, 4.0, 9.0])
    np.testing.assert_allclose(kth_neighbour_sq_radii(x, 2), [9.0, 4.0, 9.0, 25.0])
