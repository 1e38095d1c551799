"""Latent-space paths: lerp, slerp (Shoemake 1985), latent arithmetic, and a path-length statistic.

Path length (Karras et al. 2019, StyleGAN's PPL without LPIPS): for random
pairs and ``t ~ U(0, 1)``, ``d(G(φ(t)), G(φ(t+ε))) / ε²`` with ``ε = 1e-4``,
``d`` the squared Euclidean distance of features; values outside the 1st–99th
percentiles are dropped and the rest averaged. PPL proper uses LPIPS, whose
weights are not bundled: here ``d`` is in pixel space (the generator's raw
output) or a chosen backbone's feature space.
"""

from __future__ import annotations

import re

import numpy as np

EPSILON = 1e-4


def lerp(z0: np.ndarray, z1: np.ndarray, t) -> np.ndarray:
    """``(1 - t) z0 + t z1`` for each ``t``: ``(len(t), D)``."""
    t = np.asarray(t, dtype=np.float64)[:, None]
    return (1 - t) * z0[None] + t * z1[None]


def slerp(z0: np.ndarray, z1: np.ndarray, t) -> np.ndarray:
    """Spherical interpolation ``sin((1-t)Ω)/sin Ω z0 + sin(tΩ)/sin Ω z1``, Ω the angle between z0 and z1;
    lerp when Ω is ~0 (parallel latents)."""
    z0, z1 = np.asarray(z0, dtype=np.float64), np.asarray(z1, dtype=np.float64)
    cos = np.dot(z0, z1) / max(np.linalg.norm(z0) * np.linalg.norm(z1), 1e-300)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return lerp(z0, z1, t)
    t = np.asarray(t, dtype=np.float64)[:, None]
    return (np.sin((1 - t) * omega) * z0[None] + np.sin(t * omega) * z1[None]) / np.sin(omega)


def arithmetic(expression: str, latents: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Evaluate ``"a - b + c"`` over named latent rows -> ``(result, operand names in order)``."""
    tokens = re.findall(r"[+-]|[^\s+-]+", expression)
    if not tokens:
        raise ValueError("empty expression")
    index = {name: i for i, name in enumerate(names)}
    result = np.zeros(latents.shape[1])
    sign, operands, expect_term = 1.0, [], True
    for token in tokens:
        if token in "+-":
            if expect_term and operands:
                raise ValueError(f"two operators in a row in {expression!r}")
            sign = -1.0 if token == "-" else 1.0
            expect_term = True
            continue
        if not expect_term:
            raise ValueError(f"missing operator before {token!r}")
        if token not in index:
            raise ValueError(f"unknown latent {token!r} (names: {', '.join(names[:10])}{'…' if len(names) > 10 else ''})")
        result = result + sign * latents[index[token]]
        operands.append(token)
        sign, expect_term = 1.0, False
    if expect_term:
        raise ValueError(f"expression ends with an operator: {expression!r}")
    return result, operands


def path_length(distance_fn, latents_a: np.ndarray, latents_b: np.ndarray, t: np.ndarray,
                interpolate=slerp) -> float:
    """Mean of ``distance_fn(φ(t), φ(t+ε)) / ε²`` over pairs, 1st–99th percentile kept.

    ``distance_fn(za, zb)`` returns squared feature distances for latent batches.
    """
    start = np.stack([interpolate(a, b, [ti])[0] for a, b, ti in zip(latents_a, latents_b, t)])
    end = np.stack([interpolate(a, b, [ti + EPSILON])[0] for a, b, ti in zip(latents_a, latents_b, t)])
    values = np.asarray(distance_fn(start, end), dtype=np.float64) / EPSILON ** 2
    lo, hi = np.percentile(values, [1, 99])
    kept = values[(values >= lo) & (values <= hi)]
    return float(kept.mean())
