"""Streaming float64 mean and covariance of feature rows, with exact merge: the one covariance of gentools.

Callers that size an accumulator from a file's declared dimension check the
memory budget first (``gentools.memory.require_covariance``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FOLD_ROWS = 256  # rows folded per BLAS update: bounds the float64 copy (2 MiB at d=2048) whatever the batch


@dataclass
class FeatureStats:
    """Running ``n``, mean and centred scatter matrix ``M2 = sum (x - mu)(x - mu)^T``.

    Batches are folded in with the pairwise update of Chan, Golub & LeVeque
    (1979): each batch's own mean and scatter in float64, then
    ``M2 = M2_a + M2_b + delta delta^T * n_a n_b / n``. This is exact in exact
    arithmetic, numerically stable, and never needs an [N, D] float64 copy.
    The covariance is the unbiased estimator (ddof=1), equal to
    ``np.cov(X, rowvar=False)``.
    """

    dim: int
    n: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def __post_init__(self):
        if self.mean is None:
            self.mean = np.zeros(self.dim, dtype=np.float64)
        if self.m2 is None:
            self.m2 = np.zeros((self.dim, self.dim), dtype=np.float64)

    def append(self, batch: np.ndarray) -> None:
        """Fold in rows ``batch: (b, dim)`` of any float dtype.

        Each block of ``FOLD_ROWS`` rows has its scatter added into ``M2`` in place by one BLAS call
        (``dgemm`` with ``beta=1``), and the rank-one correction by ``dger``:
        no d×d temporary, so memory stays at ``M2`` plus a float64 copy of at most ``FOLD_ROWS`` rows.
        """
        batch = np.asarray(batch)
        if batch.ndim != 2 or batch.shape[1] != self.dim:
            raise ValueError(f"expected rows of dim {self.dim}, got shape {batch.shape}")
        for start in range(0, len(batch), FOLD_ROWS):
            x = np.array(batch[start:start + FOLD_ROWS], dtype=np.float64)  # a copy: centred in place below
            mean_b = x.mean(axis=0)
            x -= mean_b
            self._fold(len(x), mean_b, x)

    def merge(self, other: "FeatureStats") -> "FeatureStats":
        """Fold in another accumulator (exact pooled mean and scatter); returns self."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge stats of dim {other.dim} into dim {self.dim}")
        if other.n:
            self._fold(other.n, other.mean, None, other.m2)
        return self

    def _fold(self, n_b: int, mean_b: np.ndarray, centred=None, m2_b=None) -> None:
        """Chan et al.'s update with a batch given as centred rows (scatter ``centredᵀ centred``) or as ``m2_b``."""
        from scipy.linalg import blas

        n_a, n = self.n, self.n + n_b
        delta = mean_b - self.mean
        m2 = self.m2.T  # the Fortran-ordered view BLAS updates in place (M2 is symmetric)
        if centred is not None:
            out = blas.dgemm(1.0, centred.T, centred.T, beta=1.0, c=m2, trans_b=1, overwrite_c=1)  # no copies
        else:
            out = m2
            out += m2_b
        if n_a:
            out = blas.dger(n_a * n_b / n, delta, delta, a=out, overwrite_a=1)
        if not np.shares_memory(out, self.m2):  # the wrapper copied: keep its result
            self.m2 = np.ascontiguousarray(out.T)
        self.mean += delta * (n_b / n)
        self.n = n

    def mean_cov(self, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(mu (dim,), sigma (dim, dim))`` in float64, sigma ``M2 / (n - ddof)``: ddof=1 is ``np.cov``;
        ddof=0 is StyleGAN's ``raw_cov / n - outer(mean, mean)`` (``metrics/metric_utils.py``)."""
        if self.n < 2:
            raise ValueError(f"covariance needs at least 2 rows, have {self.n}")
        sigma = self.m2 / (self.n - ddof)
        return self.mean.copy(), (sigma + sigma.T) / 2

    @classmethod
    def from_mean_cov(cls, n: int, mu: np.ndarray, sigma: np.ndarray) -> "FeatureStats":
        """Rebuild an accumulator from stored ``(n, mu, sigma)`` so it can be merged."""
        mu = np.asarray(mu, dtype=np.float64)
        sigma = np.asarray(sigma, dtype=np.float64)
        return cls(dim=len(mu), n=int(n), mean=mu.copy(), m2=sigma * (int(n) - 1))
