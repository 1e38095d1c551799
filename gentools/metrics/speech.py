"""Speech quality and intelligibility per pair, each with the reason a pair cannot be scored.

PESQ (ITU-T P.862; P.862.2 wide band) calls the ``pesq`` package's C code (never vendored: its licence forbids
redistribution); STOI (Taal et al. 2011) and ESTOI (Jensen & Taal 2016) call ``pystoi``. Each function takes
the reference (clean) and the generated (degraded, processed) signal as 1-d float arrays at one rate and returns
``(value, reason)``: a value, or NaN and why. The peers turn these cases into numbers: ``pesq`` returns its
error code −7 as a score under ``RETURN_VALUES``, and pystoi returns 1e-5 when fewer than 30 frames are left
after silence removal.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

MIN_SECONDS = 0.25  # pesq: "Buffer needs to be at least 1/4 of a second long"
STOI_FRAMES = "Not enough STFT frames"  # pystoi's warning before it returns 1e-5


def unscorable(reference: np.ndarray, generated: np.ndarray, rate: int) -> str:
    """Why a pair cannot be scored by any of these metrics, or ``""``: lengths that differ, a signal under
    0.25 s, a silent reference."""
    if len(reference) != len(generated):
        return f"lengths differ: {len(generated)} generated against {len(reference)} reference samples"
    if len(reference) < MIN_SECONDS * rate:
        return f"under 0.25 s ({len(reference) / rate:.3f} s)"
    if not np.any(reference):
        return "the reference is silent"
    return ""


def pesq(reference: np.ndarray, generated: np.ndarray, rate: int, mode: str) -> tuple[float, str]:
    """PESQ MOS-LQO of ``generated`` against ``reference`` at ``rate`` (8000 or 16000 Hz), ``mode`` ``wb``
    or ``nb``: ``pesq.pesq(rate, reference, generated, mode)``, errors as reasons."""
    import pesq as pesq_package

    reason = unscorable(reference, generated, rate)
    if reason:
        return math.nan, reason
    try:
        return float(pesq_package.pesq(rate, reference, generated, mode)), ""
    except pesq_package.NoUtterancesError:
        return math.nan, "PESQ detected no utterances (its error -7)"
    except pesq_package.PesqError as exc:
        return math.nan, f"PESQ error: {exc}"


def stoi(reference: np.ndarray, generated: np.ndarray, rate: int, extended: bool = False) -> tuple[float, str]:
    """STOI (``extended``: ESTOI) of ``generated`` against ``reference``: ``pystoi.stoi(reference, generated,
    rate, extended)``, which resamples to 10 kHz itself; fewer than 30 frames after its silence removal is a
    reason, not the 1e-5 pystoi returns."""
    import pystoi

    reason = unscorable(reference, generated, rate)
    if reason:
        return math.nan, reason
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = pystoi.stoi(reference, generated, rate, extended=extended)
    if any(STOI_FRAMES in str(w.message) for w in caught):
        return math.nan, "fewer than 30 frames after silence removal (pystoi returns 1e-5)"
    return float(value), ""
