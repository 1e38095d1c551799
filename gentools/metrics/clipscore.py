"""CLIP score (Hessel et al. 2021, "CLIPScore: A Reference-free Evaluation Metric for Image Captioning").

``clip_score = mean_i max(100 · cos(img_i, text_i), 0)`` over rows whose image and caption embeddings come
from one CLIP model: the paper's per-caption clamp, with torchmetrics' scale of 100 (METRICS.md).

torchmetrics ``CLIPScore`` clamps the mean instead (``multimodal/clip_score.py``:
``return torch.max(self.score / self.n_samples, torch.zeros_like(self.score))``). The two are equal whenever
no row has a negative cosine, which is what trained CLIP models give for image-caption pairs; they differ
only for rows whose image and caption point apart.
"""

from __future__ import annotations

import numpy as np

from gentools.metrics._pairwise import l2_normalise

CLIP_SCORE = "clip_score"


def clip_score(images: np.ndarray, texts: np.ndarray) -> float:
    """``images: (n, e)``, ``texts: (n, e)`` embeddings of the same rows."""
    cos = np.einsum("ij,ij->i", l2_normalise(images), l2_normalise(texts))
    return float(np.maximum(100 * cos, 0).mean())
