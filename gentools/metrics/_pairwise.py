"""Chunked pairwise squared Euclidean distances and k-th neighbour radii.

Shared by PRDC, nearest-neighbour and kernel metrics. Memory is bounded by
``budget`` matrix entries per chunk: an n×m distance matrix is never held at once.
Squared distances come out of one BLAS call, ``C = -2 A Bᵀ + C`` with ``C``
prefilled by ``|a|² + |b|²`` (norms computed in float64): no separate pass to
combine them. The GEMM runs in the inputs' dtype (float32 features: sgemm, a
float32 result within ~1e-6 relative of exact; float64 inputs: all float64).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from scipy.linalg import blas

DEFAULT_BUDGET = 1 << 24  # entries per chunk: 128 MiB of float64


def chunk_rows(n_cols: int, budget: int = DEFAULT_BUDGET) -> int:
    """Rows per chunk so that ``rows * n_cols`` stays within ``budget``."""
    return max(1, budget // max(1, n_cols))


def l2_normalise(x: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Rows scaled to unit Euclidean norm in ``dtype``; all-zero rows stay zero."""
    x = np.asarray(x, dtype=dtype)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.finfo(dtype).tiny)


def sq_norms(x: np.ndarray) -> np.ndarray:
    """Row squared norms in float64: ``x: (n, d)`` -> ``(n,)``."""
    x64 = np.asarray(x, dtype=np.float64)
    return np.einsum("ij,ij->i", x64, x64)


def sq_distances(a: np.ndarray, b: np.ndarray, a_norms: np.ndarray, b_norms: np.ndarray) -> np.ndarray:
    """``|a_i - b_j|²`` as ``(len(a), len(b))`` in the GEMM dtype, clipped at 0."""
    dtype = np.float64 if np.float64 in (a.dtype, b.dtype) else np.float32
    a = np.ascontiguousarray(a, dtype=dtype)
    b = np.ascontiguousarray(b, dtype=dtype)
    out = np.empty((len(a), len(b)), dtype=dtype)
    np.add(a_norms[:, None], b_norms[None, :], out=out, casting="unsafe")
    gemm = blas.dgemm if dtype == np.float64 else blas.sgemm
    # Row-major out is column-major out.T = b @ a.T: pass the transposed views, no copies.
    result = gemm(-2.0, b.T, a.T, beta=1.0, c=out.T, trans_a=1, trans_b=0, overwrite_c=1)
    if not np.shares_memory(result, out):  # BLAS wrapper copied; keep its result
        out = result.T
    return np.maximum(out, 0, out=out)


def iter_sq_distances(a: np.ndarray, b: np.ndarray, budget: int = DEFAULT_BUDGET,
                      a_norms: np.ndarray | None = None,
                      b_norms: np.ndarray | None = None) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(rows, D²[rows, :])`` for consecutive row blocks of ``a`` against all of ``b``."""
    a_norms = sq_norms(a) if a_norms is None else a_norms
    b_norms = sq_norms(b) if b_norms is None else b_norms
    step = chunk_rows(len(b), budget)
    for start in range(0, len(a), step):
        rows = slice(start, min(start + step, len(a)))
        yield rows, sq_distances(a[rows], b, a_norms[rows], b_norms)


def kth_neighbour_sq_radii(x: np.ndarray, k: int, budget: int = DEFAULT_BUDGET) -> np.ndarray:
    """Squared distance from each row of ``x`` to its k-th nearest other row.

    The self-distance is set to exactly 0 and the (k+1)-th smallest distance
    of the row is taken, as ``prdc.compute_nearest_neighbour_distances``.
    """
    if not 1 <= k < len(x):
        raise ValueError(f"k={k} needs more than k rows, have {len(x)}")
    norms = sq_norms(x)
    radii = np.empty(len(x))
    for rows, d2 in iter_sq_distances(x, x, budget, norms, norms):
        local = np.arange(rows.stop - rows.start)
        d2[local, rows.start + local] = 0.0
        radii[rows] = np.partition(d2, k, axis=1)[:, k]
    return radii
