"""CLIP score on stored embeddings: the per-row clamp of METRICS.md, and where torchmetrics' clamp differs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gentools.metrics.clipscore import clip_score

# torchmetrics (test extra) multimodal/clip_score.py, read in the installed package below.
TORCHMETRICS_LINES = ("score = 100 * (source_features * target_features).sum(axis=-1)",  # functional: per row
                      "return torch.max(self.score / self.n_samples, torch.zeros_like(self.score))")  # the mean


def _torchmetrics_clip_score(images: np.ndarray, texts: np.ndarray) -> float:
    """torchmetrics ``CLIPScore``, transcribed: L2-normalised features, ``100 * cos`` per row, summed, then
    ``torch.max(score / n, 0)``: the clamp after the mean."""
    a = images / np.linalg.norm(images, axis=1, keepdims=True)
    b = texts / np.linalg.norm(texts, axis=1, keepdims=True)
    return max(float((100 * (a * b).sum(axis=-1)).sum() / len(a)), 0.0)


def test_torchmetrics_lines_are_in_its_source():
    folder = Path(importlib.util.find_spec("torchmetrics").origin).parent
    text = (folder / "functional" / "multimodal" / "clip_score.py").read_text()
    text += (folder / "multimodal" / "clip_score.py").read_text()
    for line in TORCHMETRICS_LINES:
        assert line in text, line


def test_equals_torchmetrics_when_no_cosine_is_negative_and_clamps_each_row_otherwise():
    rng = np.random.RandomState(0)
    images = rng.randn(200, 16)
    aligned = images + 0.8 * rng.randn(200, 16)  # every cosine > 0
    cos = (images * aligned).sum(1) / np.linalg.norm(images, axis=1) / np.linalg.norm(aligned, axis=1)
    assert cos.min() > 0
    assert clip_score(images, aligned) == pytest.approx(_torchmetrics_clip_score(images, aligned), rel=1e-12)
    mixed = np.concatenate([aligned[:150], -aligned[150:]])  # 50 captions pointing away from their image
    ours, theirs = clip_score(images, mixed), _torchmetrics_clip_score(images, mixed)
    cos = np.concatenate([cos[:150], -cos[150:]])
    assert ours == pytest.approx(np.maximum(100 * cos, 0).mean(), rel=1e-12)
    assert ours > theirs + 1  # torchmetrics lets the negative rows pull the mean down before clamping
