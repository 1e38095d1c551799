"""``gentools.kad``, and the fadtk route of ``gentools.fid`` (FAD as fadtk computes it, FAD∞, per-file FAD).

An audio features file holds one row per embedding frame; a file's frames are one run of equal ids, which is
how fadtk's per-file statistics and ``score_individual`` see them here.
"""

from __future__ import annotations


import numpy as np

from gentools import memory
from gentools.api._common import Result, bar
from gentools.api.registry import FORCE, GEN, Input, Option, register_metric
from gentools.errors import InputError, UsageError, option, warn
from gentools.inputs import describe, open_pair
from gentools.metrics import audio as audio_metrics
from gentools.metrics import frechet
from gentools.store import id_runs


def file_runs(item) -> list[tuple[str, np.ndarray]]:
    """``[(id, frames)]``: each run of equal consecutive ids of a features file (one audio file's frames)."""
    rows = item.array()
    ids = item.ids or [str(k) for k in range(len(rows))]
    return [(ids[start], rows[start:stop]) for start, stop in id_runs(ids)]


def fadtk_moments(item) -> tuple[np.ndarray, np.ndarray]:
    """fadtk's statistics of a side: stats as they are; features through ``calculate_embd_statistics_online``
    over each file's float16 frames."""
    if item.kind != "features":
        return item.mu, item.sigma
    runs = file_runs(item)
    short = [sid for sid, frames in runs if len(frames) < 2]
    if short:  # fadtk's np.cov of one frame is NaN, and so is its FAD: a number nobody can use
        raise InputError(f"{len(short)} file(s) of one frame (first: {short[0]!r}); fadtk's per-file covariance "
                         f"(np.cov) of one frame is NaN, and so would be its FAD ({item.label})",
                         hint="use sound files of at least two frames (VGGish: 1.92 s), or fid without --preset "
                              "fadtk")
    return audio_metrics.fadtk_statistics([frames.astype(np.float16) for _, frames in runs])


def fadtk_fid(gen, ref, infinity: bool, seed: int, progress) -> dict:
    """``fid`` under ``--preset fadtk``: ``calc_frechet_distance(mu_ref, cov_ref, mu_gen, cov_gen)`` (fadtk's
    ``score`` puts the baseline first), and FAD∞ (``score_inf``) with ``infinity``."""
    mu_ref, cov_ref = fadtk_moments(ref)
    values = {frechet.FID: audio_metrics.fadtk_frechet_distance(mu_ref, cov_ref, *fadtk_moments(gen))}
    if infinity:
        frames = gen.array().astype(np.float16)
        if len(frames) < audio_metrics.FAD_INFINITY_MIN_N:
            warn(f"FAD∞ from {len(frames)} frames, fewer than fadtk's min_n={audio_metrics.FAD_INFINITY_MIN_N}: "
                 f"its subset sizes then exceed the set (drawn with replacement) and the extrapolation to "
                 f"infinity means little ({gen.label})")
        with bar(progress, "FAD∞", audio_metrics.FAD_INFINITY_STEPS) as tick:
            inf = audio_metrics.fad_infinity(frames, mu_ref, cov_ref, seed, progress=tick)
        values.update({frechet.FID_INFINITY: inf["fad_infinity"], "fid_infinity_slope": inf["fad_infinity_slope"],
                       "fid_infinity_r2": inf["fad_infinity_r2"]})
    return values


def per_file_fid(gen, mu_ref, sigma_ref, fadtk: bool) -> dict:
    """``fid.ID`` of each generated file's frames against the whole reference (fadtk's ``score_individual``:
    ``calc_embd_statistics`` of the file, then ``calc_frechet_distance`` with the reference first). A file
    with fewer than two frames has no covariance: it is left out with a warning, as fadtk logs and skips it."""
    out, short = {}, []
    for sid, frames in file_runs(gen):
        if len(frames) < 2:
            short.append(sid)
            continue
        if fadtk:
            mu, cov = audio_metrics.fadtk_file_statistics(frames.astype(np.float16))
            out[f"fid.{sid}"] = audio_metrics.fadtk_frechet_distance(mu_ref, sigma_ref, mu, cov)
        else:
            out[f"fid.{sid}"] = frechet.frechet_distance(*frechet.mean_cov(frames), mu_ref, sigma_ref)
    if short:
        warn(f"per-file FID: {len(short)} file(s) with fewer than 2 frames left out (first: "
             f"{short[0]!r})")
    return out


@register_metric(
    "kad", inputs=(GEN, Input("ref", "Reference set")), metavar="GEN REF", evaluator="rows",
    summary="Kernel Audio Distance (kadtk): unbiased MMD² of the frames with a Gaussian kernel, x 100.\n\n"
            "k(x, y) = exp(-|x-y|² / (2 bw² + 1e-8)) in float32, bw the median pairwise distance of GEN (what "
            "kadtk's code computes; its README says the reference set: --bandwidth-from ref). Equal to kadtk's "
            "calc_kernel_audio_distance(ref, gen). Can be negative.\n\nExample: gentools kad gen.h5 ref.h5",
    options=(Option("bandwidth", None, "Kernel bandwidth (default: the median pairwise distance, see "
                    "--bandwidth-from).", type=float, metavar="BW"),
             Option("bandwidth_from", "gen", "Whose median pairwise distance is the bandwidth: gen (kadtk's "
                    "code) or ref (kadtk's README).", choices=("gen", "ref")),
             FORCE))
def kad(gen, ref, *, bandwidth, bandwidth_from, force) -> Result:
    """KAD (Chung et al. 2025; kadtk ``calc_kernel_audio_distance(embd_bg=ref, embd_eval=gen)``): unbiased
    MMD² with ``exp(-d² / (2·bw² + 1e-8))`` over all frames, × 100; ``bw`` the median pairwise distance of
    ``gen`` (``bandwidth_from="ref"``: of ``ref``, as kadtk's README describes it) unless ``bandwidth`` is
    given. Returns ``kad`` and the ``kad_bandwidth`` used."""
    if bandwidth_from not in ("gen", "ref"):
        raise UsageError(f"{option('bandwidth_from', bandwidth_from)}: expected gen or ref")
    if bandwidth is not None and not bandwidth > 0:
        raise UsageError(f"{option('bandwidth', bandwidth)}: expected a positive number")
    gen, ref = open_pair(gen, ref, "kad", force)
    for item in (gen, ref):
        if item.n < 2:
            raise InputError(f"KAD needs at least 2 frames on each side ({item.label})")
    m, n = ref.n, gen.n
    memory.require(4 * 3 * max(m, n) ** 2 + 4 * 2 * m * n, f"KAD's float32 kernel matrices ({m} and {n} frames)",
                   gen.label)
    value, used = audio_metrics.kernel_audio_distance(ref.array(), gen.array(), bandwidth, bandwidth_from)
    params = {"bandwidth": "" if bandwidth is None else bandwidth, "bandwidth_from": bandwidth_from}
    return Result({"kad": value, "kad_bandwidth": used}, [describe(gen), describe(ref)], params)
