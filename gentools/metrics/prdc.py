"""Precision, recall, density and coverage of a generated set against a real set.

Precision/recall: Kynkäänniemi et al. 2019; density/coverage: Naeem et al.
2020, "Reliable Fidelity and Diversity Metrics for Generative Models".
Tested against ``prdc.compute_prdc(real_features=X, fake_features=Y, nearest_k=k)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gentools.metrics._pairwise import DEFAULT_BUDGET, iter_sq_distances, kth_neighbour_sq_radii, sq_norms

PRECISION, RECALL, DENSITY, COVERAGE, F_SCORE = "precision", "recall", "density", "coverage", "f_score"


def prdc(real: np.ndarray, generated: np.ndarray, k: int = 5, budget: int = DEFAULT_BUDGET,
         progress: Callable[[int], None] | None = None, strict: bool = True, float16: bool = False) -> dict:
    """PRDC with k-NN radii ``r_X`` (real) and ``r_Y`` (generated), strict ``<``
    (``strict=False``: ``<=``, as torch-fidelity's, StyleGAN's and ADM's P&R).
    ``float16``: features rounded to float16 first, as ADM (``tf.cast(..., tf.float16)``)
    and StyleGAN (``.to(torch.float16)``) do before their distances; the
    distances themselves are then computed in float32 as usual.

    - precision = mean_j [exists i: d(X_i, Y_j) < r_X(i)]
    - recall    = mean_i [exists j: d(X_i, Y_j) < r_Y(j)]
    - density   = (1/k) mean_j #{i: d(X_i, Y_j) < r_X(i)}
    - coverage  = mean_i [min_j d(X_i, Y_j) < r_X(i)]
    - f_score   = harmonic mean of precision and recall

    One chunked pass over the real×generated distances, ``budget`` entries at a
    time. ``real: (n, d)``, ``generated: (m, d)``.
    """
    if float16:
        real = np.asarray(real).astype(np.float16).astype(np.float32)
        generated = np.asarray(generated).astype(np.float16).astype(np.float32)
    r_real = kth_neighbour_sq_radii(real, k, budget)
    r_gen = kth_neighbour_sq_radii(generated, k, budget)
    counts = np.zeros(len(generated), dtype=np.int64)
    recalled = np.zeros(len(real), dtype=bool)
    covered = np.zeros(len(real), dtype=bool)
    gen_norms = sq_norms(generated)
    within = np.less if strict else np.less_equal
    for rows, d2 in iter_sq_distances(real, generated, budget, b_norms=gen_norms):
        inside_real = within(d2, r_real[rows, None])
        counts += inside_real.sum(axis=0)
        recalled[rows] = within(d2, r_gen[None, :]).any(axis=1)
        covered[rows] = within(d2.min(axis=1), r_real[rows])
        if progress:
            progress(rows.stop - rows.start)
    precision = float((counts > 0).mean())
    recall = float(recalled.mean())
    f_score = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {PRECISION: precision, RECALL: recall, DENSITY: float(counts.mean() / k),
            COVERAGE: float(covered.mean()), F_SCORE: f_score}
