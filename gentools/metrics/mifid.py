"""MiFID's memorisation penalty (Kaggle's GAN competition; torchmetrics
``MemorizationInformedFrechetInceptionDistance``).

``m`` = mean over generated rows of the minimum cosine distance ``1 − |cos|``
to training rows (all-zero rows dropped); ``MiFID = FID / m`` when ``m < eps``
(0.1), else FID. Tested against torchmetrics' helpers.
"""

from __future__ import annotations

import numpy as np

from gentools.metrics._pairwise import DEFAULT_BUDGET, chunk_rows, l2_normalise

MIFID_EPS = 0.1


def memorisation_distance(gen: np.ndarray, train: np.ndarray, eps: float = MIFID_EPS,
                          budget: int = DEFAULT_BUDGET) -> tuple[float, float]:
    """``(m, penalty)``: mean min cosine distance of generated rows to training rows, and the
    divisor MiFID uses (``m`` if ``m < eps`` else 1)."""
    g = l2_normalise(gen[np.asarray(gen).sum(axis=1) != 0])
    t = l2_normalise(train[np.asarray(train).sum(axis=1) != 0])
    best = np.full(len(g), np.inf)
    step = chunk_rows(len(t), budget)
    for start in range(0, len(g), step):
        block = 1.0 - np.abs(g[start:start + step] @ t.T)
        best[start:start + step] = block.min(axis=1)
    m = float(best.mean())
    return m, (m if m < eps else 1.0)


def mifid(fid_value: float, penalty: float) -> float:
    """FID divided by the memorisation penalty (0 when FID is ~0, as torchmetrics)."""
    return fid_value / (penalty + 1e-14) if fid_value > 1e-8 else 0.0
